using System.Collections.Immutable;

namespace Kv.Actors.Objects;

/// <summary>A causal context handed to clients: the highest counter seen per actor id (sorted by id).</summary>
public sealed record VersionVector(ImmutableSortedDictionary<string, long> Counters)
{
    public static readonly VersionVector Empty = new(ImmutableSortedDictionary.Create<string, long>(StringComparer.Ordinal));

    public static VersionVector Of(params (string Id, long Counter)[] entries) =>
        new(entries.ToImmutableSortedDictionary(e => e.Id, e => e.Counter, StringComparer.Ordinal));

    public bool Equals(VersionVector? other) => other is not null && Counters.SequenceEqual(other.Counters);

    public override int GetHashCode() => Counters.Count;

    public override string ToString() => "[" + string.Join(", ", Counters.Select(kv => $"{kv.Key}:{kv.Value}")) + "]";
}
