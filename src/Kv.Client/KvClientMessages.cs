using Kv.Actors.Coordinators;
namespace Kv.Client;

/// <summary>Actor API: read a key. Reply: <see cref="KvObject"/> or <see cref="KvFailure"/>.</summary>
public sealed record Get(string Namespace, string Key, RequestOptions? Options = null);

/// <summary>Actor API: write a value (with the context of the read it is based on). Reply: <see cref="KvWriteResult"/> or <see cref="KvFailure"/>.</summary>
public sealed record Put(string Namespace, string Key, byte[] Value, CausalContext? Context = null, RequestOptions? Options = null, string ContentType = "application/octet-stream")
{
    /// <summary>The value's time to live (null: none); more than 0, at most <see cref="Kv.Actors.Objects.Expiry.MaxTtl"/>.</summary>
    public TimeSpan? Ttl { get; init; }
}

/// <summary>Actor API: delete a key (a tombstone with the given context). Reply: <see cref="KvWriteResult"/> or <see cref="KvFailure"/>.</summary>
public sealed record Delete(string Namespace, string Key, CausalContext? Context = null, RequestOptions? Options = null);

/// <summary>Actor API: a request to a node's admin actor (Kv.Actors.Admin messages), sent to a reachable node; the node's reply comes back as it is.</summary>
public sealed record AdminRequest(object Message);

/// <summary>Actor API: replies once the client knows the ring (<see cref="ClientReady"/>) or no contact point answered (<see cref="KvFailure"/>).</summary>
public sealed record AwaitReady
{
    public static readonly AwaitReady Instance = new();
}

/// <summary>The client knows the ring and the nodes.</summary>
public sealed record ClientReady(IReadOnlyList<string> Nodes, long RingVersion);

/// <summary>A request failed; <see cref="Error"/> says how.</summary>
public sealed record KvFailure(KvException Error);
