namespace Kv.Storage;

/// <summary>Counters and shape of one engine, as `kv storage stats` prints them.</summary>
public sealed record StorageStatistics
{
    public long Puts { get; init; }
    public long Deletes { get; init; }
    public long Gets { get; init; }
    public long WriteGroups { get; init; }
    public long WalBytes { get; init; }
    public long WalSyncs { get; init; }
    public long Flushes { get; init; }

    /// <summary>Versions a flush left out because a newer version of the key hid them from every snapshot.</summary>
    public long FlushDroppedEntries { get; init; }
    public long Compactions { get; init; }
    public long TrivialMoves { get; init; }
    public long CompactionBytesRead { get; init; }
    public long CompactionBytesWritten { get; init; }

    /// <summary>Tables rewritten (or removed) by <see cref="LsmEngine.RepairTable"/>.</summary>
    public long TablesRepaired { get; init; }

    /// <summary>Bad blocks those repairs found (see <see cref="TableRepairReport.BadBlocks"/>).</summary>
    public long CorruptBlocksFound { get; init; }
    public long Stalls { get; init; }
    public TimeSpan StallTime { get; init; }
    public long Slowdowns { get; init; }
    public long[] LevelFiles { get; init; } = [];
    public long[] LevelBytes { get; init; } = [];
    public long MemtableBytes { get; init; }
    public int ImmutableMemtables { get; init; }
    public long BlockCacheHits { get; init; }
    public long BlockCacheMisses { get; init; }
    public long BlockCacheUsage { get; init; }
    public ulong LastSequence { get; init; }
    public int LiveSnapshots { get; init; }
    public int OpenTables { get; init; }
    public string? BackgroundError { get; init; }
}
