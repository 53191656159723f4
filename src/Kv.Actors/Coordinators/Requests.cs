using Kv.Actors.Objects;

namespace Kv.Actors.Coordinators;

/// <summary>
/// Per-request overrides of the namespace settings (Riak's request options); null keeps the
/// namespace's value. <see cref="Hops"/> counts forwards between nodes (internal).
/// </summary>
public sealed record RequestOptions
{
    public int? R { get; init; }
    public int? W { get; init; }
    public int? DW { get; init; }
    public int? PR { get; init; }
    public int? PW { get; init; }
    public TimeSpan? Timeout { get; init; }
    public bool? NotFoundOk { get; init; }
    public bool? BasicQuorum { get; init; }

    /// <summary>Return the stored object (with its siblings) in the put's answer.</summary>
    public bool? ReturnBody { get; init; }

    internal int Hops { get; init; }

    public static readonly RequestOptions None = new();

    /// <summary>The namespace's settings with these overrides applied, validated.</summary>
    public NamespaceProps Apply(NamespaceProps props, string ns)
    {
        // No override and nothing to clamp (the usual request): the namespace's own settings, not a copy per request.
        if (R is null && W is null && DW is null && PR is null && PW is null && Timeout is null && NotFoundOk is null && BasicQuorum is null
            && props.DW <= props.W && props.PR <= props.R && props.PW <= props.W)
            return props.Validate(ns);
        return (props with
        {
            R = R ?? props.R,
            W = W ?? props.W,
            DW = DW ?? Math.Min(props.DW, W ?? props.W),
            PR = PR ?? Math.Min(props.PR, R ?? props.R),
            PW = PW ?? Math.Min(props.PW, W ?? props.W),
            Timeout = Timeout ?? props.Timeout,
            NotFoundOk = NotFoundOk ?? props.NotFoundOk,
            BasicQuorum = BasicQuorum ?? props.BasicQuorum,
        }).Validate(ns);
    }
}

/// <summary>Store a value under (namespace, key); Context is the causal context of an earlier read (empty for a blind write).</summary>
public sealed record KvPut(byte[] Namespace, byte[] Key, Sibling Value, VersionVector Context, RequestOptions Options)
{
    /// <summary>
    /// The value's time to live (null: none). The coordinating node stamps the value with its clock's
    /// now + ttl (<see cref="Sibling.ExpiresAtMs"/>); 0 &lt; ttl &lt;= <see cref="Expiry.MaxTtl"/>, else the put is refused.
    /// </summary>
    public TimeSpan? Ttl { get; init; }
}

/// <summary>Read (namespace, key).</summary>
public sealed record KvGet(byte[] Namespace, byte[] Key, RequestOptions Options);

/// <summary>Delete (namespace, key): a tombstone written with the caller's context.</summary>
public sealed record KvDelete(byte[] Namespace, byte[] Key, VersionVector Context, RequestOptions Options);

/// <summary>A request that could not run: invalid arguments, unknown namespace, no ring yet, too few primaries reachable.</summary>
public sealed record RequestFailed(string Reason, FailureCode Code = FailureCode.InvalidRequest)
{
    public override string ToString() => Reason;
}

/// <summary>Why a request was refused before it reached any replica.</summary>
public enum FailureCode
{
    /// <summary>Bad settings or overrides (r, w, ... out of range), a bad content type.</summary>
    InvalidRequest = 0,

    /// <summary>Empty key, or longer than kv.max-key-size; namespace name empty or too long.</summary>
    InvalidKey = 1,

    /// <summary>The value exceeds kv.max-object-size.</summary>
    ValueTooLarge = 2,

    /// <summary>The namespace is not declared under kv.namespaces (and kv.strict-namespaces is on).</summary>
    UnknownNamespace = 3,

    /// <summary>The node cannot serve yet (no ring: the cluster is still forming).</summary>
    Unavailable = 4,

    /// <summary>A consistent operation timed out after its value was proposed: it may or may not have been applied.</summary>
    Indeterminate = 5,

    /// <summary>The request needs a logged-in user: no token, or an invalid or expired one (docs/security.md).</summary>
    NotAuthenticated = 6,

    /// <summary>The user's grants do not allow the request.</summary>
    AccessDenied = 7,
}
