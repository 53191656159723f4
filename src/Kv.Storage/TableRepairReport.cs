namespace Kv.Storage;

/// <summary>
/// A range of user keys, both ends inclusive: every key k with Low &lt;= k &lt;= High (bytewise).
/// Equality of two ranges compares the arrays by reference (it is a record over byte arrays).
/// </summary>
public sealed record KeyRange(byte[] Low, byte[] High)
{
    /// <summary>Whether <paramref name="userKey"/> lies in [Low, High].</summary>
    public bool Contains(ReadOnlySpan<byte> userKey) =>
        userKey.SequenceCompareTo(Low) >= 0 && userKey.SequenceCompareTo(High) <= 0;
}

/// <summary>
/// What <see cref="LsmEngine.RepairTable"/> did to one table.
/// </summary>
/// <param name="File">The table's file name (e.g. "000012.sst").</param>
/// <param name="NewFile">The table written in its place from its readable entries; null if nothing
/// was readable (the table was only removed) or nothing was done.</param>
/// <param name="Level">The level the table was in (and the new one is in); -1 if skipped.</param>
/// <param name="EntriesKept">Entries (internal keys: every version and tombstone) copied to the new table.</param>
/// <param name="BadBlocks">Blocks that failed their checks: data blocks, plus one for an unreadable
/// metaindex/filter/properties block (which loses nothing), or one for an unreadable footer or index
/// (which loses the whole table). 0 if the table was intact (it was rewritten anyway).</param>
/// <param name="LostRanges">User-key ranges, inclusive, sorted and not touching, in which entries may
/// have been lost: reads there now see whatever older version other tables hold, or nothing. The
/// caller refills them from elsewhere (other replicas). Ranges are conservative: they may hold keys
/// that were kept.</param>
/// <param name="Skipped">Why nothing was done (not a live table, engine closing, ...); null if the table was repaired.</param>
public sealed record TableRepairReport(
    string File,
    string? NewFile,
    int Level,
    long EntriesKept,
    int BadBlocks,
    IReadOnlyList<KeyRange> LostRanges,
    string? Skipped);
