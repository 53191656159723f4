namespace Kv.Actors.Objects;

/// <summary>
/// One value of an object with its metadata; a tombstone is a sibling with <see cref="Deleted"/> set.
/// <see cref="ExpiresAtMs"/> is the absolute instant (Unix ms) a value written with a TTL expires
/// (0: it never does), stamped by the coordinating node; see <see cref="Expiry"/>.
/// </summary>
public sealed class Sibling(byte[] value, string contentType, long lastModifiedMs, bool deleted, long expiresAtMs = 0) : IEquatable<Sibling>
{
    public byte[] Value { get; } = value;
    public string ContentType { get; } = contentType;
    public long LastModifiedMs { get; } = lastModifiedMs;
    public bool Deleted { get; } = deleted;

    /// <summary>When the value expires (Unix ms), 0 for a value without a TTL.</summary>
    public long ExpiresAtMs { get; } = expiresAtMs;

    public static Sibling Tombstone(long nowMs) => new([], "", nowMs, deleted: true);

    public bool Equals(Sibling? other) =>
        other is not null && Deleted == other.Deleted && LastModifiedMs == other.LastModifiedMs && ExpiresAtMs == other.ExpiresAtMs
        && string.Equals(ContentType, other.ContentType, StringComparison.Ordinal) && Value.AsSpan().SequenceEqual(other.Value);

    public override bool Equals(object? obj) => Equals(obj as Sibling);

    public override int GetHashCode() => HashCode.Combine(Value.Length, LastModifiedMs, Deleted, ExpiresAtMs);

    public override string ToString() => Deleted ? "<deleted>" : System.Text.Encoding.UTF8.GetString(Value);
}
