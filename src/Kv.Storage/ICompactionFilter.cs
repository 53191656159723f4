namespace Kv.Storage;

/// <summary>What compaction does with an entry a filter has seen.</summary>
public enum CompactionDecision
{
    Keep,

    /// <summary>Remove the key: dropped if no deeper level holds it, otherwise replaced by an expired tombstone.</summary>
    Remove,
}

/// <summary>
/// Looks at the newest version of each live key that compaction rewrites (not at keys newer than the
/// oldest snapshot). Must be thread-safe and must decide from the key and value alone.
/// </summary>
public interface ICompactionFilter
{
    CompactionDecision Filter(int level, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);
}
