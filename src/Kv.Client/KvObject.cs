using System.Text;

namespace Kv.Client;

/// <summary>One value of an object: its bytes, content type and when it was written.</summary>
public sealed record KvValue(byte[] Value, string ContentType, DateTimeOffset LastModified)
{
    /// <summary>When the value expires (written with a TTL), by the clock of the node that coordinated its write; null: never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    public string AsString() => Encoding.UTF8.GetString(Value);
}

/// <summary>
/// The result of a get: not found, one value, or several concurrent values (siblings). Resolve
/// siblings by writing one value with this object's <see cref="Context"/>.
/// </summary>
public sealed record KvObject(string Namespace, string Key, bool Found, IReadOnlyList<KvValue> Siblings, CausalContext Context)
{
    public bool HasSiblings => Siblings.Count > 1;

    /// <summary>The value when there is exactly one; throws when there are siblings or none.</summary>
    public KvValue Value => Siblings.Count == 1
        ? Siblings[0]
        : throw new InvalidOperationException(Found ? $"{Siblings.Count} siblings: read Siblings and resolve them" : "not found");
}

/// <summary>The result of a put or delete: the new causal context, and (with return_body) the stored siblings.</summary>
public sealed record KvWriteResult(CausalContext Context, IReadOnlyList<KvValue> Siblings, int Acks, int DurableAcks);
