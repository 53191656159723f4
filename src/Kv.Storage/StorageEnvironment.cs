using Kv.Storage.Table;

namespace Kv.Storage;

/// <summary>
/// Resources shared by many engines in one process (a node hosts one engine per vnode): one
/// byte-bounded block cache, one memtable budget (the largest memtable is switched and flushed when
/// the total passes it, and writers wait while it stays over), and two bounded thread pools, flushes
/// apart from compactions so that one engine's long compaction never holds up another's flush.
/// </summary>
public sealed class StorageEnvironment : IDisposable
{
    private readonly object _gate = new();
    private readonly List<LsmEngine> _engines = [];
    private long _memtableUsage;
    private long _peakMemtableUsage;

    public StorageEnvironment(long blockCacheBytes = 256L << 20, long memtableBudgetBytes = 512L << 20,
        int flushThreads = 1, int compactionThreads = 0, CommitLog? commitLog = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(memtableBudgetBytes, 1L << 20);
        ArgumentOutOfRangeException.ThrowIfLessThan(flushThreads, 1);
        if (compactionThreads <= 0)
        {
            compactionThreads = Math.Max(1, System.Environment.ProcessorCount / 2);
        }
        BlockCache = new BlockCache(blockCacheBytes);
        MemtableBudget = memtableBudgetBytes;
        Flushes = new BackgroundPool("kv-flush", flushThreads);
        Compactions = new BackgroundPool("kv-compact", compactionThreads);
        CommitLog = commitLog;
        if (commitLog is not null)
        {
            commitLog.FlushRequested = FlushEngines;
        }
    }

    /// <summary>
    /// The write-ahead log every engine of this environment shares (owned: disposed with it), or null
    /// when each engine keeps its own WAL.
    /// </summary>
    public CommitLog? CommitLog { get; }

    /// <summary>The commit log holds too many segments: the engines still needing the oldest one switch and flush their memtables.</summary>
    private void FlushEngines(IReadOnlyCollection<ulong> logIds)
    {
        List<LsmEngine> engines;
        lock (_gate)
        {
            engines = _engines.FindAll(e => logIds.Contains(e.LogId));
        }
        foreach (LsmEngine e in engines)
        {
            e.RequestMemtableSwitch();
        }
    }

    public BlockCache BlockCache { get; }

    public long MemtableBudget { get; }

    /// <summary>Bytes held by the active and immutable memtables of every engine.</summary>
    public long MemtableUsage => Interlocked.Read(ref _memtableUsage);

    /// <summary>Highest <see cref="MemtableUsage"/> seen since the environment was created.</summary>
    public long PeakMemtableUsage => Interlocked.Read(ref _peakMemtableUsage);

    public int EngineCount
    {
        get
        {
            lock (_gate)
            {
                return _engines.Count;
            }
        }
    }

    /// <summary>The statistics of every engine open in this environment now (for metrics; the block cache is the environment's, shared).</summary>
    public IReadOnlyList<StorageStatistics> EngineStatistics()
    {
        LsmEngine[] engines;
        lock (_gate)
        {
            engines = [.. _engines];
        }
        var stats = new List<StorageStatistics>(engines.Length);
        foreach (LsmEngine e in engines)
        {
            try
            {
                stats.Add(e.GetStatistics());
            }
            catch (ObjectDisposedException)
            {
                // closed meanwhile: no longer counted
            }
        }
        return stats;
    }

    internal BackgroundPool Flushes { get; }

    internal BackgroundPool Compactions { get; }

    internal bool OverBudget => Interlocked.Read(ref _memtableUsage) >= MemtableBudget;

    internal void Register(LsmEngine engine)
    {
        lock (_gate)
        {
            _engines.Add(engine);
        }
    }

    internal void Unregister(LsmEngine engine)
    {
        lock (_gate)
        {
            _engines.Remove(engine);
        }
    }

    internal void ChargeMemtable(long bytes)
    {
        long now = Interlocked.Add(ref _memtableUsage, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakMemtableUsage)))
        {
            if (Interlocked.CompareExchange(ref _peakMemtableUsage, now, peak) == peak)
            {
                break;
            }
        }
    }

    internal void ReleaseMemtable(long bytes)
    {
        Interlocked.Add(ref _memtableUsage, -bytes);
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The engine whose active memtable is largest (the one to flush when over budget).</summary>
    internal LsmEngine? LargestActiveMemtable()
    {
        lock (_gate)
        {
            LsmEngine? best = null;
            long bestSize = 0;
            foreach (LsmEngine e in _engines)
            {
                long size = e.ActiveMemtableBytes;
                if (size > bestSize)
                {
                    best = e;
                    bestSize = size;
                }
            }
            return best;
        }
    }

    /// <summary>Waits until a flush releases memory or the timeout passes.</summary>
    internal void WaitForRelease(TimeSpan timeout)
    {
        lock (_gate)
        {
            if (OverBudget)
            {
                Monitor.Wait(_gate, timeout);
            }
        }
    }

    public void Dispose()
    {
        Flushes.Dispose();
        Compactions.Dispose();
        CommitLog?.Dispose();
    }
}
