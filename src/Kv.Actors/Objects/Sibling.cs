namespace Kv.Actors.Objects;

/// <summary>One value of an object with its metadata; a tombstone is a sibling with <see cref="Deleted"/> set.</summary>
public sealed class Sibling(byte[] value, string contentType, long lastModifiedMs, bool deleted) : IEquatable<Sibling>
{
    public byte[] Value { get; } = value;
    public string ContentType { get; } = contentType;
    public long LastModifiedMs { get; } = lastModifiedMs;
    public bool Deleted { get; } = deleted;

    public static Sibling Tombstone(long nowMs) => new([], "", nowMs, deleted: true);

    public bool Equals(Sibling? other) =>
        other is not null && Deleted == other.Deleted && LastModifiedMs == other.LastModifiedMs
        && string.Equals(ContentType, other.ContentType, StringComparison.Ordinal) && Value.AsSpan().SequenceEqual(other.Value);

    public override bool Equals(object? obj) => Equals(obj as Sibling);

    public override int GetHashCode() => HashCode.Combine(Value.Length, LastModifiedMs, Deleted);

    public override string ToString() => Deleted ? "<deleted>" : System.Text.Encoding.UTF8.GetString(Value);
}
