using Kv.Storage.IO;
using Kv.Storage.Iterators;
using Kv.Storage.Memtable;
using Kv.Storage.Table;
using Kv.Storage.Versions;
using Kv.Storage.Wal;

namespace Kv.Storage;

/// <summary>
/// One LSM tree in one directory: WAL + memtable + leveled SSTables. Thread-safe. Writes go through
/// group commit (<see cref="LsmEngine"/>.Write.cs), flushes and compactions run on the environment's
/// pools (<see cref="LsmEngine"/>.Background.cs). See docs/storage.md.
/// </summary>
public sealed partial class LsmEngine : IDisposable
{
    /// <summary>
    /// Largest key accepted: DESIGN.md's 64 KiB plus 1 KiB for what a user of the engine puts around
    /// its own keys (the store prefixes a key with its namespace, up to 257 bytes).
    /// </summary>
    public const int MaxKeySize = 65 * 1024;

    /// <summary>Largest value accepted.</summary>
    public const int MaxValueSize = 64 * 1024 * 1024;

    private readonly object _mutex = new();
    private readonly object _manifestLock = new();
    private readonly IFileSystem _fs;
    private readonly StorageEnvironment _env;
    private readonly bool _ownsEnv;
    private readonly TableCache _tables;
    private readonly VersionSet _versions;
    private readonly IDisposable _lock;
    private readonly LinkedList<Snapshot> _snapshots = new();
    private readonly HashSet<long> _pendingOutputs = [];
    private readonly Random _random;
    private MemTable _mem;
    private MemTable[] _imm = [];
    private LogWriter? _wal; // null with a shared commit log
    private readonly CommitLog? _log;
    private ulong _logId;
    private long _logPosition;
    private ulong _lastSequence;
    private long _memLimit;
    private long _gets;
    private volatile bool _disposed;

    private LsmEngine(string directory, StorageOptions options)
    {
        options.Validate();
        Directory = directory;
        Options = options;
        _fs = options.FileSystem;
        _random = new Random(HashCode.Combine(directory, Environment.TickCount64));
        _ownsEnv = options.Environment is null;
        _env = options.Environment ?? new StorageEnvironment();
        _fs.CreateDirectory(directory);
        _lock = _fs.Lock(Path.Combine(directory, FileNames.LockFile));
        _tables = new TableCache(_fs, directory, _env.BlockCache);
        _versions = new VersionSet(_fs, directory, _tables);
        _log = _env.CommitLog;
        try
        {
            (_mem, _wal) = Recover();
        }
        catch
        {
            _versions.Dispose();
            _tables.Dispose();
            _lock.Dispose();
            if (_ownsEnv)
            {
                _env.Dispose();
            }
            throw;
        }
        _memLimit = NextMemtableLimit();
        _env.Register(this);
        if (options.SyncMode == SyncMode.Interval)
        {
            _syncTimer = new Timer(_ => RequestIntervalSync(), null, options.SyncInterval, options.SyncInterval);
        }
        MaybeScheduleCompaction();
    }

    public string Directory { get; }

    public StorageOptions Options { get; }

    /// <summary>What recovery found and did at open (torn tails truncated, corrupt logs set aside).</summary>
    public RecoveryReport Recovery { get; private set; } = RecoveryReport.Clean;

    /// <summary>Sequence number of the newest write visible to readers.</summary>
    public ulong LastSequence => Volatile.Read(ref _lastSequence);

    /// <summary>This engine's id in the shared commit log (0 without one).</summary>
    internal ulong LogId => _logId;

    internal long ActiveMemtableBytes => _disposed ? 0 : Volatile.Read(ref _mem).ApproximateMemoryUsage;

    /// <summary>Opens (or creates) the engine in <paramref name="directory"/>.</summary>
    public static LsmEngine Open(string directory, StorageOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return new LsmEngine(Path.GetFullPath(directory), options ?? new StorageOptions());
    }

    /// <summary>
    /// Closes the engine and deletes its directory and everything in it. With a shared commit log,
    /// first records there that the engine's records are no longer needed.
    /// </summary>
    public void DisposeAndDelete()
    {
        Dispose();
        _log?.Forget(_logId);
        foreach (string name in _fs.ListFiles(Directory))
        {
            _fs.Delete(Path.Combine(Directory, name));
        }
        _fs.SyncDirectory(Directory);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // a file system that keeps no directories on disk (tests)
        }
    }

    /// <summary>The value of <paramref name="key"/> (a copy of its own), or null if absent or deleted.</summary>
    public byte[]? Get(ReadOnlySpan<byte> key, Snapshot? snapshot = null) =>
        TryGet(key, out ReadOnlyMemory<byte> value, snapshot) ? value.ToArray() : null;

    /// <summary>
    /// Looks up <paramref name="key"/> without copying its value (RocksDB's pinned reads): the value
    /// is the engine's own bytes, in a memtable's arena or a verified table block. Those are written
    /// once and never changed or reused (the garbage collector keeps them while referenced), so the
    /// value stays valid after the engine moves on; it must not be written to. False if the key is
    /// absent or deleted.
    /// </summary>
    public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value, Snapshot? snapshot = null)
    {
        ValidateKey(key);
        ThrowIfDisposed();
        CheckSnapshot(snapshot);
        Interlocked.Increment(ref _gets);
        ulong sequence = snapshot?.Sequence ?? Volatile.Read(ref _lastSequence);
        int lookupLength = key.Length + InternalKey.TagSize;
        byte[] lookup = lookupLength <= 512 ? (t_lookup ??= new byte[512]) : new byte[lookupLength];
        key.CopyTo(lookup);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(lookup.AsSpan(key.Length), InternalKey.Tag(sequence, EntryType.Value));
        ReadOnlySpan<byte> lookupKey = lookup.AsSpan(0, lookupLength);
        MemTable mem;
        MemTable[] imm;
        Version version;
        lock (_mutex)
        {
            mem = _mem;
            imm = _imm;
            version = _versions.Current;
            version.Ref();
        }
        try
        {
            LookupResult result = mem.Get(lookupKey, out value);
            for (int i = imm.Length - 1; result == LookupResult.NotFound && i >= 0; i--)
            {
                result = imm[i].Get(lookupKey, out value);
            }
            if (result == LookupResult.NotFound)
            {
                result = version.Get(lookupKey, BloomFilter.Hash(key), out value);
            }
            if (result != LookupResult.Found)
            {
                value = default;
                return false;
            }
            return true;
        }
        finally
        {
            version.Unref();
        }
    }

    [ThreadStatic]
    private static byte[]? t_lookup;

    /// <summary>A cursor over the engine as of now (or the snapshot in <paramref name="options"/>).</summary>
    public StorageIterator NewIterator(ReadOptions? options = null)
    {
        options ??= ReadOptions.Default;
        ThrowIfDisposed();
        CheckSnapshot(options.Snapshot);
        ulong sequence = options.Snapshot?.Sequence ?? Volatile.Read(ref _lastSequence);
        var children = new List<IInternalIterator>();
        Version version;
        lock (_mutex)
        {
            children.Add(_mem.NewIterator());
            for (int i = _imm.Length - 1; i >= 0; i--)
            {
                children.Add(_imm[i].NewIterator());
            }
            version = _versions.Current;
            version.Ref();
        }
        try
        {
            version.AddIterators(children, options.FillCache);
        }
        catch
        {
            version.Unref();
            throw;
        }
        return new StorageIterator(new MergingIterator([.. children]), sequence, options.LowerBound, options.UpperBound, version.Unref);
    }

    /// <summary>Every live key-value pair with keys starting with <paramref name="prefix"/>, in order (copies).</summary>
    public IEnumerable<KeyValuePair<byte[], byte[]>> ScanPrefix(byte[] prefix, Snapshot? snapshot = null)
    {
        using StorageIterator it = NewIterator(ReadOptions.ForPrefix(prefix, snapshot));
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            yield return new KeyValuePair<byte[], byte[]>(it.Key.ToArray(), it.Value.ToArray());
        }
    }

    /// <summary>A consistent view as of now; dispose it to let compaction drop what only it still sees.</summary>
    public Snapshot GetSnapshot()
    {
        ThrowIfDisposed();
        lock (_mutex)
        {
            var s = new Snapshot(this, Volatile.Read(ref _lastSequence));
            s.Node = _snapshots.AddLast(s);
            return s;
        }
    }

    internal void ReleaseSnapshot(Snapshot snapshot)
    {
        lock (_mutex)
        {
            if (snapshot.Node is not null)
            {
                _snapshots.Remove(snapshot.Node);
                snapshot.Node = null;
            }
        }
    }

    public StorageStatistics GetStatistics()
    {
        Version v;
        int snapshots;
        int imm;
        long memBytes;
        lock (_mutex)
        {
            v = _versions.Current;
            snapshots = _snapshots.Count;
            imm = _imm.Length;
            memBytes = _mem.ApproximateMemoryUsage;
            foreach (MemTable m in _imm)
            {
                memBytes += m.ApproximateMemoryUsage;
            }
        }
        var files = new long[Version.NumLevels];
        var bytes = new long[Version.NumLevels];
        for (int i = 0; i < Version.NumLevels; i++)
        {
            files[i] = v.Files[i].Count;
            bytes[i] = v.LevelBytes(i);
        }
        return new StorageStatistics
        {
            Puts = Interlocked.Read(ref _puts),
            Deletes = Interlocked.Read(ref _deletes),
            Gets = Interlocked.Read(ref _gets),
            WriteGroups = Interlocked.Read(ref _writeGroups),
            WalBytes = Interlocked.Read(ref _walBytes),
            WalSyncs = Interlocked.Read(ref _walSyncs),
            Flushes = Interlocked.Read(ref _flushes),
            FlushDroppedEntries = Interlocked.Read(ref _flushDroppedEntries),
            Compactions = Interlocked.Read(ref _compactions),
            TrivialMoves = Interlocked.Read(ref _trivialMoves),
            CompactionBytesRead = Interlocked.Read(ref _compactionRead),
            CompactionBytesWritten = Interlocked.Read(ref _compactionWritten),
            TablesRepaired = Interlocked.Read(ref _tablesRepaired),
            CorruptBlocksFound = Interlocked.Read(ref _corruptBlocksFound),
            Stalls = Interlocked.Read(ref _stalls),
            StallTime = TimeSpan.FromTicks(Interlocked.Read(ref _stallTicks)),
            Slowdowns = Interlocked.Read(ref _slowdowns),
            LevelFiles = files,
            LevelBytes = bytes,
            MemtableBytes = memBytes,
            ImmutableMemtables = imm,
            BlockCacheHits = _env.BlockCache.Hits,
            BlockCacheMisses = _env.BlockCache.Misses,
            BlockCacheUsage = _env.BlockCache.Usage,
            LastSequence = LastSequence,
            LiveSnapshots = snapshots,
            OpenTables = _tables.OpenCount,
            BackgroundError = _backgroundError?.Message,
        };
    }

    /// <summary>Reads every block of every live table and checks its checksum; throws on the first corruption.</summary>
    public long VerifyChecksums()
    {
        ThrowIfDisposed();
        Version v;
        lock (_mutex)
        {
            v = _versions.Current;
            v.Ref();
        }
        try
        {
            long blocks = 0;
            foreach (List<FileMetadata> level in v.Files)
            {
                foreach (FileMetadata f in level)
                {
                    blocks += _tables.Get(f).VerifyAll();
                }
            }
            return blocks;
        }
        finally
        {
            v.Unref();
        }
    }

    internal static void ValidateKey(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("key must not be empty", nameof(key));
        }
        if (key.Length > MaxKeySize)
        {
            throw new ArgumentException($"key of {key.Length} bytes exceeds the {MaxKeySize}-byte limit", nameof(key));
        }
    }

    internal static void ValidateValue(ReadOnlySpan<byte> value)
    {
        if (value.Length > MaxValueSize)
        {
            throw new ArgumentException($"value of {value.Length} bytes exceeds the {MaxValueSize}-byte limit", nameof(value));
        }
    }

    private void CheckSnapshot(Snapshot? snapshot)
    {
        if (snapshot is not null && (snapshot.Owner != this || snapshot.Node is null))
        {
            throw new ArgumentException("the snapshot belongs to another engine or was released", nameof(snapshot));
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private long NextMemtableLimit()
    {
        long size = Options.WriteBufferSize;
        return Options.RandomizeWriteBuffer ? (long)(size * (0.75 + _random.NextDouble() * 0.5)) : size;
    }

    private void LogEvent(string message) => Options.Log?.Invoke($"[{Path.GetFileName(Directory)}] {message}");
}
