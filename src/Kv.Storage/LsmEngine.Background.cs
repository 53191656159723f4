using Kv.Storage.Memtable;
using Kv.Storage.Versions;

namespace Kv.Storage;

/// <summary>
/// Background work: flushing immutable memtables to level 0 (flush pool) and leveled compaction
/// (compaction pool), manual compaction, deleting obsolete files, and shutdown.
/// </summary>
public sealed partial class LsmEngine
{
    private readonly object _compactionLock = new();
    private readonly object _obsoleteLock = new();
    private bool _flushScheduled;
    private bool _compactionScheduled;
    private volatile bool _shuttingDown;
    private volatile Exception? _backgroundError;
    private long _flushes;
    private long _flushDroppedEntries;
    private long _compactions;
    private long _trivialMoves;
    private long _compactionRead;
    private long _compactionWritten;

    private void ScheduleFlush()
    {
        lock (_mutex)
        {
            if (_flushScheduled || _imm.Length == 0 || _shuttingDown)
            {
                return;
            }
            _flushScheduled = true;
        }
        _env.Flushes.Schedule(FlushJob);
    }

    private void FlushJob()
    {
        try
        {
            if (!_shuttingDown && _backgroundError is null)
            {
                FlushOldestImmutable();
            }
        }
        catch (Exception e)
        {
            SetBackgroundError(e);
        }
        finally
        {
            lock (_mutex)
            {
                _flushScheduled = false;
                Monitor.PulseAll(_mutex);
            }
        }
        ScheduleFlush();
        MaybeScheduleCompaction();
    }

    private void FlushOldestImmutable()
    {
        MemTable imm;
        lock (_mutex)
        {
            if (_imm.Length == 0)
            {
                return;
            }
            imm = _imm[0];
        }
        long number = NewOutputNumber();
        FileMetadata? meta;
        using (var it = imm.NewIterator())
        {
            meta = BuildTable(it, number, SmallestSnapshot());
        }
        var edit = new VersionEdit();
        if (meta is not null)
        {
            _fs.SyncDirectory(Directory);
            edit.NewFiles.Add((0, meta));
        }
        if (_log is null)
        {
            lock (_mutex)
            {
                // Every WAL older than the next unflushed memtable's is now redundant.
                edit.LogNumber = _imm.Length > 1 ? _imm[1].WalNumber : _mem.WalNumber;
            }
        }
        else
        {
            // Every write at or below the sealed memtable's last sequence is now in a table.
            edit.CommitLogFloor = imm.SealedSequence;
        }
        edit.LastSequence = LastSequence;
        lock (_manifestLock)
        {
            _versions.LogAndApply(edit, _mutex, () =>
            {
                _imm = _imm[1..];
                _pendingOutputs.Remove(number);
            });
        }
        _log?.Flushed(_logId, imm.SealedPosition);
        _env.ReleaseMemtable(imm.ApproximateMemoryUsage);
        Interlocked.Increment(ref _flushes);
        DeleteObsoleteFiles(atOpen: false);
    }

    /// <summary>The oldest sequence a reader may still read at: the oldest live snapshot's, else the latest.</summary>
    private ulong SmallestSnapshot()
    {
        lock (_mutex)
        {
            return _snapshots.First?.Value.Sequence ?? LastSequence;
        }
    }

    private void MaybeScheduleCompaction()
    {
        lock (_mutex)
        {
            if (_compactionScheduled || _shuttingDown || _backgroundError is not null
                || CompactionPlan.Pick(_versions, Options) is null)
            {
                return;
            }
            _compactionScheduled = true;
        }
        _env.Compactions.Schedule(CompactionJob);
    }

    private void CompactionJob()
    {
        bool ran = false;
        try
        {
            if (!_shuttingDown && _backgroundError is null && Monitor.TryEnter(_compactionLock))
            {
                try
                {
                    ran = RunPickedCompaction();
                }
                finally
                {
                    Monitor.Exit(_compactionLock);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            SetBackgroundError(e);
        }
        finally
        {
            lock (_mutex)
            {
                _compactionScheduled = false;
                Monitor.PulseAll(_mutex);
            }
        }
        if (ran)
        {
            MaybeScheduleCompaction();
        }
    }

    private bool RunPickedCompaction()
    {
        CompactionPlan? plan;
        lock (_mutex)
        {
            plan = CompactionPlan.Pick(_versions, Options);
            plan?.Base.Ref();
        }
        if (plan is null)
        {
            return false;
        }
        try
        {
            Execute(plan);
        }
        finally
        {
            plan.Base.Unref();
        }
        DeleteObsoleteFiles(atOpen: false);
        return true;
    }

    /// <summary>
    /// Rewrites every entry in the user-key range [begin, end] (null = open): each level down to the
    /// deepest one holding the range is compacted into the next, and that bottom level is rewritten in
    /// place, so obsolete versions and expired tombstones in the range are gone afterwards.
    /// </summary>
    public void CompactRange(byte[]? begin = null, byte[]? end = null)
    {
        ThrowIfDisposed();
        Flush();
        lock (_compactionLock)
        {
            int deepest;
            lock (_mutex)
            {
                deepest = CompactionPlan.DeepestLevel(_versions.Current, begin, end);
            }
            for (int level = 0; level <= deepest; level++)
            {
                // Level 0 always moves down; the deepest level (if not 0) is compacted in place.
                CompactRangeOf(level, begin, end, inPlace: level == deepest && level > 0);
            }
        }
        ThrowIfBackgroundError();
    }

    /// <summary>One level's files overlapping [begin, end] compacted (into the next level, or in place); the compaction lock is held.</summary>
    private void CompactRangeOf(int level, byte[]? begin, byte[]? end, bool inPlace)
    {
        CompactionPlan? plan;
        lock (_mutex)
        {
            plan = CompactionPlan.ForRange(_versions.Current, level, begin, end, inPlace);
            plan?.Base.Ref();
        }
        if (plan is null)
        {
            return;
        }
        try
        {
            Execute(plan);
        }
        finally
        {
            plan.Base.Unref();
        }
        DeleteObsoleteFiles(atOpen: false);
    }

    /// <summary>
    /// Compacts the files of <paramref name="level"/> overlapping [begin, end] (user keys, null =
    /// open) into the next level, like LevelDB's TEST_CompactRange: for tests that need data in a
    /// given level.
    /// </summary>
    internal void CompactLevel(int level, byte[]? begin = null, byte[]? end = null)
    {
        ThrowIfDisposed();
        lock (_compactionLock)
        {
            CompactRangeOf(level, begin, end, inPlace: false);
        }
        ThrowIfBackgroundError();
    }

    private void Execute(CompactionPlan plan)
    {
        if (plan.IsTrivialMove)
        {
            FileMetadata f = plan.Inputs[0][0];
            var move = new VersionEdit();
            move.DeletedFiles.Add((plan.Level, f.Number));
            move.NewFiles.Add((plan.Level + 1, f));
            move.CompactPointers.Add((plan.Level, f.Largest));
            lock (_manifestLock)
            {
                _versions.LogAndApply(move, _mutex);
            }
            Interlocked.Increment(ref _trivialMoves);
            return;
        }
        var job = new CompactionJob(this, plan, SmallestSnapshot());
        try
        {
            VersionEdit edit = job.Run();
            if (job.OutputNumbers.Count > 0)
            {
                _fs.SyncDirectory(Directory);
            }
            lock (_manifestLock)
            {
                _versions.LogAndApply(edit, _mutex);
            }
        }
        finally
        {
            lock (_mutex)
            {
                foreach (long n in job.OutputNumbers)
                {
                    _pendingOutputs.Remove(n);
                }
            }
        }
        Interlocked.Increment(ref _compactions);
        Interlocked.Add(ref _compactionRead, plan.InputBytes);
        Interlocked.Add(ref _compactionWritten, job.BytesWritten);
    }

    internal bool ShuttingDown => _shuttingDown;

    internal TableCache Tables => _tables;

    internal Kv.Storage.Table.TableBuilder CreateTableBuilder(long number) =>
        new(_fs.Create(FileNames.Table(Directory, number)), Options.BlockSize, Options.BloomBitsPerKey);

    internal void DeleteTable(long number) => TryDelete(FileNames.Table(Directory, number));

    private void DeleteObsoleteFiles(bool atOpen)
    {
        lock (_obsoleteLock)
        {
            // List first, then snapshot what is live: a file created after the listing is not
            // looked at, and one created before it was registered as a pending output before
            // its creation, so it is in the snapshot. (The other order deletes new outputs.)
            IReadOnlyList<string> names = _fs.ListFiles(Directory);
            HashSet<long> live;
            long logNumber;
            long manifest;
            lock (_mutex)
            {
                live = _versions.LiveFiles();
                live.UnionWith(_pendingOutputs);
                logNumber = _versions.LogNumber;
                manifest = _versions.ManifestNumber;
            }
            foreach (string name in names)
            {
                FileNames.Kind kind = FileNames.Parse(name, out long number);
                bool keep = kind switch
                {
                    FileNames.Kind.Table => live.Contains(number),
                    FileNames.Kind.Wal => number >= logNumber,
                    FileNames.Kind.Manifest => number >= manifest,
                    FileNames.Kind.Temp => !atOpen,
                    _ => true,
                };
                if (keep)
                {
                    continue;
                }
                if (kind == FileNames.Kind.Table)
                {
                    _tables.Evict(number);
                }
                TryDelete(Path.Combine(Directory, name));
            }
        }
    }

    private void SetBackgroundError(Exception e)
    {
        if (_backgroundError is null)
        {
            _backgroundError = e;
            LogEvent($"background error, writes are refused from now on: {e.Message}");
        }
        lock (_mutex)
        {
            Monitor.PulseAll(_mutex);
        }
    }

    private void ThrowIfBackgroundError()
    {
        if (_backgroundError is Exception e)
        {
            throw new IOException($"storage engine in {Directory} refuses writes after a background error: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        if (_log is not null && !_disposed && _backgroundError is null && !Volatile.Read(ref _mem).IsEmpty)
        {
            // With a shared commit log, a clean close leaves nothing of this engine there: its
            // directory alone holds its data (for tools that open it without the log).
            try
            {
                Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                LogEvent($"could not flush at close (the commit log keeps the writes): {e.Message}");
            }
        }
        lock (_writeLock)
        {
            if (_closing)
            {
                return;
            }
            _closing = true;
            while (_leaderActive)
            {
                Monitor.Wait(_writeLock);
            }
        }
        _syncTimer?.Dispose();
        try
        {
            if (_backgroundError is null)
            {
                SyncWal();
            }
        }
        catch (IOException e)
        {
            LogEvent($"could not sync the WAL at close: {e.Message}");
        }
        lock (_writeLock)
        {
            // Interval-mode writes waiting for a sync: the sync above (or its failure) settles them.
            foreach (PendingWrite w in _awaitingSync)
            {
                w.Done = true;
                Settle(w);
            }
            _awaitingSync.Clear();
            Monitor.PulseAll(_writeLock);
        }
        lock (_mutex)
        {
            _shuttingDown = true;
            while (_flushScheduled || _compactionScheduled || _repairsRunning > 0)
            {
                Monitor.Wait(_mutex, 100);
            }
            _disposed = true;
        }
        long held = _mem.ApproximateMemoryUsage;
        foreach (MemTable m in _imm)
        {
            held += m.ApproximateMemoryUsage;
        }
        _env.ReleaseMemtable(held);
        _env.Unregister(this);
        _wal?.Dispose();
        _versions.Dispose();
        _tables.Dispose();
        _lock.Dispose();
        if (_ownsEnv)
        {
            _env.Dispose();
        }
    }
}
