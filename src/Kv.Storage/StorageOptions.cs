using Kv.Storage.IO;

namespace Kv.Storage;

/// <summary>When the write-ahead log is forced to stable storage.</summary>
public enum SyncMode
{
    /// <summary>A durable write returns after an fsync that it shares with concurrent writers (group commit). Default.</summary>
    PerWrite,

    /// <summary>The WAL is fsynced every <see cref="StorageOptions.SyncInterval"/>; durable writes wait for the next one.</summary>
    Interval,

    /// <summary>Never fsync the WAL: durable writes are treated as buffered (tests and benchmarks only).</summary>
    None,
}

/// <summary>How recovery treats a damaged WAL record that is followed by valid ones.</summary>
public enum WalRecoveryMode
{
    /// <summary>Recover the prefix before the damage, set the damaged log aside as *.corrupt and report it. Default.</summary>
    PointInTime,

    /// <summary>Refuse to open.</summary>
    AbsoluteConsistency,
}

/// <summary>Options of one engine instance. Defaults follow DESIGN.md section 6.</summary>
public sealed record StorageOptions
{
    public bool CreateIfMissing { get; init; } = true;

    public bool ErrorIfExists { get; init; }

    /// <summary>File system for every file operation; tests pass a <see cref="FaultInjectionFileSystem"/>.</summary>
    public IFileSystem FileSystem { get; init; } = PhysicalFileSystem.Instance;

    /// <summary>Shared cache, memtable budget and thread pools. Null: the engine gets a private one with defaults.</summary>
    public StorageEnvironment? Environment { get; init; }

    /// <summary>Memtable size before it is switched and flushed.</summary>
    public long WriteBufferSize { get; init; } = 16L << 20;

    /// <summary>Vary each memtable's size by +-25% so that many instances do not flush in lockstep.</summary>
    public bool RandomizeWriteBuffer { get; init; } = true;

    /// <summary>Immutable memtables waiting for flush before writers stall.</summary>
    public int MaxImmutableMemtables { get; init; } = 2;

    public int L0CompactionTrigger { get; init; } = 4;

    public int L0SlowdownTrigger { get; init; } = 12;

    public int L0StopTrigger { get; init; } = 20;

    public long L1MaxBytes { get; init; } = 64L << 20;

    public int LevelMultiplier { get; init; } = 10;

    public long TargetFileSize { get; init; } = 8L << 20;

    public int BlockSize { get; init; } = 4096;

    public int BloomBitsPerKey { get; init; } = 10;

    public SyncMode SyncMode { get; init; } = SyncMode.PerWrite;

    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    public WalRecoveryMode RecoveryMode { get; init; } = WalRecoveryMode.PointInTime;

    /// <summary>Tombstones are dropped by compaction only once they are at least this old.</summary>
    public TimeSpan TombstoneGracePeriod { get; init; } = TimeSpan.Zero;

    /// <summary>Called by compaction for the newest version of each key (TTL expiry, tombstone reaping).</summary>
    public ICompactionFilter? CompactionFilter { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Upper bound on the bytes one group commit merges into one WAL record.</summary>
    public int MaxGroupCommitBytes { get; init; } = 1 << 20;

    /// <summary>Receives one line per notable event (recovery, corruption, stalls, background errors).</summary>
    public Action<string>? Log { get; init; }

    internal void Validate()
    {
        static void Check(bool ok, string name, object value, string rule)
        {
            if (!ok)
            {
                throw new ArgumentException($"storage option {name} = {value} is invalid: {rule}");
            }
        }
        Check(WriteBufferSize >= 64 << 10, nameof(WriteBufferSize), WriteBufferSize, "must be at least 64 KiB");
        Check(MaxImmutableMemtables >= 1, nameof(MaxImmutableMemtables), MaxImmutableMemtables, "must be at least 1");
        Check(L0CompactionTrigger >= 1, nameof(L0CompactionTrigger), L0CompactionTrigger, "must be at least 1");
        Check(L0SlowdownTrigger >= L0CompactionTrigger, nameof(L0SlowdownTrigger), L0SlowdownTrigger, "must be >= L0CompactionTrigger");
        Check(L0StopTrigger >= L0SlowdownTrigger, nameof(L0StopTrigger), L0StopTrigger, "must be >= L0SlowdownTrigger");
        Check(L1MaxBytes >= 1 << 20, nameof(L1MaxBytes), L1MaxBytes, "must be at least 1 MiB");
        Check(LevelMultiplier >= 2, nameof(LevelMultiplier), LevelMultiplier, "must be at least 2");
        Check(TargetFileSize >= 64 << 10, nameof(TargetFileSize), TargetFileSize, "must be at least 64 KiB");
        Check(BlockSize is >= 256 and <= 1 << 20, nameof(BlockSize), BlockSize, "must be between 256 B and 1 MiB");
        Check(BloomBitsPerKey is >= 0 and <= 64, nameof(BloomBitsPerKey), BloomBitsPerKey, "must be between 0 and 64");
        Check(SyncInterval > TimeSpan.Zero, nameof(SyncInterval), SyncInterval, "must be positive");
        Check(TombstoneGracePeriod >= TimeSpan.Zero, nameof(TombstoneGracePeriod), TombstoneGracePeriod, "must not be negative");
        Check(MaxGroupCommitBytes >= 4096, nameof(MaxGroupCommitBytes), MaxGroupCommitBytes, "must be at least 4 KiB");
    }
}
