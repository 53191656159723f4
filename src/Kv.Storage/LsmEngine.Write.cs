using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Kv.Storage.Memtable;
using Kv.Storage.Wal;

namespace Kv.Storage;

/// <summary>
/// The write path. Writers queue up; whoever finds no leader becomes it and commits the queue in
/// groups: one WAL record and at most one fsync per group (group commit), then the memtable inserts.
/// A synchronous caller that leads runs the group itself; an asynchronous caller's group runs on the
/// thread pool, so <see cref="WriteAsync"/> never blocks its caller.
/// </summary>
public sealed partial class LsmEngine
{
    private const int MaxLeaderRounds = 64;
    private readonly object _writeLock = new();
    private readonly Queue<PendingWrite> _writers = new();
    private readonly List<PendingWrite> _group = [];
    private readonly List<PendingWrite> _awaitingSync = [];
    private readonly WriteBatch _groupBatch = new();
    private readonly MemInserter _inserter = new();
    private readonly Timer? _syncTimer;
    private bool _leaderActive;
    private bool _closing;
    private int _switchRequested;
    private long _puts;
    private long _deletes;
    private long _writeGroups;
    private long _walBytes;
    private long _walSyncs;
    private long _stalls;
    private long _stallTicks;
    private long _slowdowns;

    [ThreadStatic]
    private static WriteBatch? t_batch;

    private enum WriteKind
    {
        Batch,
        SwitchMemtable,
        Sync,
    }

    private sealed class PendingWrite(WriteBatch? batch, bool durable, WriteKind kind, TaskCompletionSource? completion,
        Action<Exception?, object?>? callback = null, object? state = null)
    {
        public readonly WriteBatch? Batch = batch;
        public readonly bool Durable = durable;
        public readonly WriteKind Kind = kind;
        public readonly TaskCompletionSource? Completion = completion;
        public readonly Action<Exception?, object?>? Callback = callback;
        public readonly object? State = state;
        public bool Done;
        public bool Leader;
        public Exception? Error;

        /// <summary>A caller's thread waits for this write (and may be handed the lead).</summary>
        public bool Synchronous => Completion is null && Callback is null;

        /// <summary>Tells the writer its outcome (<see cref="Error"/>), however it waits.</summary>
        public void Settle()
        {
            if (Completion is not null)
            {
                if (Error is null)
                {
                    Completion.TrySetResult();
                }
                else
                {
                    Completion.TrySetException(Error);
                }
            }
            else if (Callback is not null)
            {
                Callback(Error, State);
            }
            else
            {
                Signal();
            }
        }

        /// <summary>Wakes a synchronous writer: its write is done or it now leads.</summary>
        public void Signal()
        {
            lock (this)
            {
                Monitor.Pulse(this);
            }
        }
    }

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>; with <paramref name="durable"/>, returns after fsync.</summary>
    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool durable = false)
    {
        WriteBatch batch = t_batch ??= new WriteBatch();
        batch.Clear();
        batch.Put(key, value);
        Write(batch, durable);
    }

    /// <summary>Deletes <paramref name="key"/> (writes a tombstone).</summary>
    public void Delete(ReadOnlySpan<byte> key, bool durable = false)
    {
        WriteBatch batch = t_batch ??= new WriteBatch();
        batch.Clear();
        batch.Delete(key);
        Write(batch, durable);
    }

    /// <summary>Applies a batch atomically, blocking the calling thread until it is committed.</summary>
    public void Write(WriteBatch batch, bool durable = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfDisposed();
        if (batch.Count == 0)
        {
            return;
        }
        var w = new PendingWrite(batch, durable, WriteKind.Batch, null);
        Submit(w);
        WaitFor(w);
    }

    /// <summary>
    /// Applies a batch atomically without blocking the caller; the task completes when it is committed
    /// (after fsync if <paramref name="durable"/>). Do not change the batch until then.
    /// </summary>
    public Task WriteAsync(WriteBatch batch, bool durable = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfDisposed();
        if (batch.Count == 0)
        {
            return Task.CompletedTask;
        }
        var w = new PendingWrite(batch, durable, WriteKind.Batch, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Submit(w);
        return w.Completion!.Task;
    }

    public Task PutAsync(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool durable = false) =>
        WriteAsync(new WriteBatch().Put(key, value), durable);

    /// <summary>
    /// Applies a batch atomically without blocking the caller and without a task:
    /// <paramref name="onCommitted"/> gets null once the batch is committed (after fsync if
    /// <paramref name="durable"/>), or the error that stopped it. It runs on the thread that committed
    /// the group, before the group's other writers hear of theirs, so it must be short and must neither
    /// block nor throw: it is for callers that only pass the outcome on (an actor telling itself),
    /// and it saves them the thread-pool hop a task's continuation costs. (An empty batch is reported at
    /// once, on the caller's thread.) Do not change the batch until then.
    /// </summary>
    public void Write(WriteBatch batch, bool durable, Action<Exception?, object?> onCommitted, object? state)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(onCommitted);
        ThrowIfDisposed();
        if (batch.Count == 0)
        {
            onCommitted(null, state);
            return;
        }
        Submit(new PendingWrite(batch, durable, WriteKind.Batch, null, onCommitted, state));
    }

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>; see <see cref="Write(WriteBatch, bool, Action{Exception?, object?}, object?)"/>.</summary>
    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool durable, Action<Exception?, object?> onCommitted, object? state) =>
        Write(new WriteBatch().Put(key, value), durable, onCommitted, state);

    public Task DeleteAsync(ReadOnlySpan<byte> key, bool durable = false) =>
        WriteAsync(new WriteBatch().Delete(key), durable);

    /// <summary>
    /// Makes every write committed so far durable: <paramref name="onSynced"/> gets null once they
    /// are on stable storage, or the error that stopped it (same rules as the callback of
    /// <see cref="Write(WriteBatch, bool, Action{Exception?, object?}, object?)"/>). For a caller
    /// that must acknowledge as durable something an earlier write stored without a sync. Nothing
    /// unsynced: reported at once, on the caller's thread; otherwise the sync queues behind the
    /// writes already submitted and goes through the group commit (a shared commit log that another
    /// engine's sync already covered costs no fsync).
    /// </summary>
    public void Sync(Action<Exception?, object?> onSynced, object? state)
    {
        ArgumentNullException.ThrowIfNull(onSynced);
        ThrowIfDisposed();
        bool synced;
        lock (_writeLock)
        {
            // Groups commit one at a time and a sync clears the count after everything appended
            // before it is synced: zero with no writer queued or running means all is durable.
            synced = Interlocked.Read(ref _unsyncedBytes) == 0 && _awaitingSync.Count == 0 && _writers.Count == 0 && !_leaderActive;
        }
        if (synced)
        {
            onSynced(null, state);
            return;
        }
        Submit(new PendingWrite(null, false, WriteKind.Sync, null, onSynced, state));
    }

    /// <summary>Makes every write committed so far durable; see <see cref="Sync(Action{Exception?, object?}, object?)"/>.</summary>
    public Task SyncAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Sync(static (error, state) =>
        {
            var tcs = (TaskCompletionSource)state!;
            if (error is null)
            {
                tcs.TrySetResult();
            }
            else
            {
                tcs.TrySetException(error);
            }
        }, done);
        return done.Task;
    }

    /// <summary>Writes the active memtable to a level-0 table and waits until every memtable is flushed.</summary>
    public void Flush()
    {
        ThrowIfDisposed();
        var w = new PendingWrite(null, false, WriteKind.SwitchMemtable, null);
        Submit(w);
        WaitFor(w);
        lock (_mutex)
        {
            while (_imm.Length > 0 && _backgroundError is null && !_disposed)
            {
                Monitor.Wait(_mutex, 100);
            }
        }
        ThrowIfBackgroundError();
    }

    /// <summary>Asks the engine to switch its memtable soon (used when the shared budget is exceeded).</summary>
    internal void RequestMemtableSwitch()
    {
        if (_disposed || Interlocked.Exchange(ref _switchRequested, 1) == 1)
        {
            return;
        }
        var w = new PendingWrite(null, false, WriteKind.SwitchMemtable, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            Submit(w);
        }
        catch (ObjectDisposedException)
        {
        }
        w.Completion!.Task.ContinueWith(_ => Volatile.Write(ref _switchRequested, 0), TaskScheduler.Default);
    }

    private void RequestIntervalSync()
    {
        lock (_writeLock)
        {
            if (_awaitingSync.Count == 0 && Interlocked.Read(ref _unsyncedBytes) == 0)
            {
                return;
            }
        }
        var w = new PendingWrite(null, false, WriteKind.Sync, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            Submit(w);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private long _unsyncedBytes;

    private void Submit(PendingWrite w)
    {
        bool lead;
        lock (_writeLock)
        {
            if (_closing)
            {
                throw new ObjectDisposedException(nameof(LsmEngine));
            }
            _writers.Enqueue(w);
            lead = !_leaderActive;
            if (lead)
            {
                _leaderActive = true;
            }
        }
        if (!lead)
        {
            return;
        }
        if (w.Synchronous)
        {
            RunLeader();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(static e => _ = e.RunLeaderAsync(), this, preferLocal: false);
        }
    }

    private void WaitFor(PendingWrite w)
    {
        lock (w)
        {
            while (!Volatile.Read(ref w.Done) && !Volatile.Read(ref w.Leader))
            {
                Monitor.Wait(w);
            }
        }
        if (!w.Done)
        {
            RunLeader(); // leadership was handed to us; our write heads the queue
        }
        if (w.Error is not null)
        {
            ExceptionDispatchInfo.Throw(w.Error);
        }
    }

    /// <summary>Leads on the calling thread (a synchronous writer), returning when its groups are done.</summary>
    private void RunLeader() => RunLeaderAsync().GetAwaiter().GetResult();

    /// <summary>
    /// Commits groups until the queue is empty. While a group waits for the shared commit log's
    /// fsync, no thread is held: the leader continues on the thread pool once the sync is done.
    /// Never throws (a group's error goes to its writers).
    /// </summary>
    private async Task RunLeaderAsync()
    {
        for (int round = 0; ; round++)
        {
            List<PendingWrite> group = _group;
            group.Clear();
            lock (_writeLock)
            {
                if (_writers.Count == 0)
                {
                    _leaderActive = false;
                    Monitor.PulseAll(_writeLock);
                    return;
                }
                if (round >= MaxLeaderRounds)
                {
                    // Hand leadership to the pool rather than keep one caller committing for everyone.
                    ThreadPool.UnsafeQueueUserWorkItem(static e => _ = e.RunLeaderAsync(), this, preferLocal: false);
                    return;
                }
                int bytes = 0;
                while (_writers.Count > 0)
                {
                    PendingWrite next = _writers.Peek();
                    int size = next.Batch?.ApproximateSize ?? 0;
                    if (group.Count > 0 && bytes + size > Options.MaxGroupCommitBytes)
                    {
                        break;
                    }
                    group.Add(_writers.Dequeue());
                    bytes += size;
                }
            }
            Exception? error = null;
            bool synced = false;
            try
            {
                synced = await CommitGroupAsync(group).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                error = e;
            }
            Complete(group, error, synced);
            lock (_writeLock)
            {
                if (_writers.Count == 0)
                {
                    _leaderActive = false;
                    Monitor.PulseAll(_writeLock);
                    return;
                }
                PendingWrite front = _writers.Peek();
                if (front.Synchronous)
                {
                    // Like LevelDB: the next synchronous writer leads the next group while this
                    // thread returns to its caller, so no caller commits for everyone for long.
                    Volatile.Write(ref front.Leader, true);
                    front.Signal();
                    return;
                }
            }
        }
    }

    private void Complete(List<PendingWrite> group, Exception? error, bool synced)
    {
        List<PendingWrite>? finished = null;
        lock (_writeLock)
        {
            foreach (PendingWrite w in group)
            {
                if (error is null && w.Durable && Options.SyncMode == SyncMode.Interval && !synced)
                {
                    _awaitingSync.Add(w); // acknowledged by the next interval fsync
                    continue;
                }
                w.Error = error;
                (finished ??= []).Add(w);
            }
            if (synced || error is not null)
            {
                foreach (PendingWrite w in _awaitingSync)
                {
                    w.Error = error;
                    (finished ??= []).Add(w);
                }
                _awaitingSync.Clear();
            }
        }
        if (finished is null)
        {
            return;
        }
        foreach (PendingWrite w in finished)
        {
            Volatile.Write(ref w.Done, true);
            Settle(w);
        }
    }

    /// <summary>Tells a writer its outcome; a callback that throws is logged, so the other writers still hear of theirs.</summary>
    private void Settle(PendingWrite w)
    {
        try
        {
            w.Settle();
        }
        catch (Exception e)
        {
            LogEvent($"a write's completion callback threw: {e.Message}");
        }
    }

    /// <summary>Commits one group; returns whether the WAL was fsynced.</summary>
    private async Task<bool> CommitGroupAsync(List<PendingWrite> group)
    {
        ThrowIfBackgroundError();
        bool force = false;
        bool syncRequested = false;
        bool durable = false;
        WriteBatch? single = null;
        int batches = 0;
        foreach (PendingWrite w in group)
        {
            force |= w.Kind == WriteKind.SwitchMemtable;
            syncRequested |= w.Kind == WriteKind.Sync;
            if (w.Batch is not null)
            {
                durable |= w.Durable;
                single = w.Batch;
                batches++;
            }
        }
        MakeRoomForWrite(force);
        bool doSync = syncRequested || (durable && Options.SyncMode == SyncMode.PerWrite);
        if (batches == 0)
        {
            if (doSync)
            {
                await SyncWalAsync().ConfigureAwait(false);
            }
            return doSync;
        }
        WriteBatch batch = single!;
        if (batches > 1)
        {
            batch = _groupBatch;
            batch.Clear();
            foreach (PendingWrite w in group)
            {
                if (w.Batch is not null)
                {
                    batch.Append(w.Batch);
                }
            }
        }
        ulong first = _lastSequence + 1;
        batch.Stamp(first, Options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds());
        try
        {
            if (_log is not null)
            {
                _logPosition = _log.Append(_logId, batch.Rep, flush: !doSync);
            }
            else
            {
                _wal!.AddRecord(batch.Rep);
            }
            if (doSync)
            {
                await SyncWalAsync().ConfigureAwait(false);
            }
            else
            {
                _wal?.Flush();
                Interlocked.Add(ref _unsyncedBytes, batch.ApproximateSize);
            }
        }
        catch (Exception e)
        {
            // The WAL may now hold part of this group: refuse further writes rather than risk a hole.
            SetBackgroundError(e);
            throw;
        }
        long before = _mem.ApproximateMemoryUsage;
        _inserter.Mem = _mem;
        _inserter.Puts = 0;
        _inserter.Deletes = 0;
        WriteBatch.TryDecode(batch.Rep, out _, out int count, out _, _inserter);
        _env.ChargeMemtable(_mem.ApproximateMemoryUsage - before);
        Volatile.Write(ref _lastSequence, first + (ulong)count - 1);
        Interlocked.Add(ref _puts, _inserter.Puts);
        Interlocked.Add(ref _deletes, _inserter.Deletes);
        Interlocked.Add(ref _walBytes, batch.ApproximateSize);
        Interlocked.Increment(ref _writeGroups);
        return doSync;
    }

    private void SyncWal() => SyncWalAsync().GetAwaiter().GetResult();

    private async Task SyncWalAsync()
    {
        if (_log is not null)
        {
            await _log.SyncAsync(_logPosition).ConfigureAwait(false); // one fdatasync for the writes of every engine waiting
        }
        else
        {
            _wal!.Sync();
        }
        Interlocked.Exchange(ref _unsyncedBytes, 0);
        Interlocked.Increment(ref _walSyncs);
    }

    /// <summary>Switches the memtable when full (or forced), stalling while flushes or level 0 are too far behind.</summary>
    private void MakeRoomForWrite(bool force)
    {
        bool allowDelay = !force;
        while (true)
        {
            ThrowIfBackgroundError();
            int l0 = _versions.Current.Files[0].Count;
            if (allowDelay && l0 >= Options.L0SlowdownTrigger)
            {
                // Give compaction a little CPU rather than stall hard later (LevelDB's 1 ms slowdown).
                allowDelay = false;
                Interlocked.Increment(ref _slowdowns);
                Thread.Sleep(1);
                continue;
            }
            bool full = _mem.ApproximateMemoryUsage >= _memLimit;
            if (_env.OverBudget && !_mem.IsEmpty && _env.LargestActiveMemtable() == this)
            {
                full = true;
            }
            if (!(force && !_mem.IsEmpty) && !full)
            {
                break;
            }
            int imm;
            lock (_mutex)
            {
                imm = _imm.Length;
            }
            if (imm >= Options.MaxImmutableMemtables)
            {
                Stall(() => _imm.Length >= Options.MaxImmutableMemtables, "immutable memtables are waiting for flush");
                continue;
            }
            if (l0 >= Options.L0StopTrigger)
            {
                Stall(() => _versions.Current.Files[0].Count >= Options.L0StopTrigger, "level 0 has too many files");
                continue;
            }
            SwitchMemtable();
            force = false;
        }
        WaitForSharedBudget();
    }

    /// <summary>While the node-wide memtable budget is exceeded, gets the largest memtable flushed and waits.</summary>
    private void WaitForSharedBudget()
    {
        if (!_env.OverBudget)
        {
            return;
        }
        long start = Stopwatch.GetTimestamp();
        bool stalled = false;
        while (_env.OverBudget && _backgroundError is null && !_disposed)
        {
            LsmEngine? largest = _env.LargestActiveMemtable();
            if (largest == this)
            {
                if (_imm.Length >= Options.MaxImmutableMemtables)
                {
                    Stall(() => _imm.Length >= Options.MaxImmutableMemtables, "immutable memtables are waiting for flush");
                    continue;
                }
                SwitchMemtable();
            }
            else
            {
                largest?.RequestMemtableSwitch();
            }
            if (!stalled)
            {
                stalled = true;
                Interlocked.Increment(ref _stalls);
            }
            _env.WaitForRelease(TimeSpan.FromMilliseconds(10));
        }
        if (stalled)
        {
            Interlocked.Add(ref _stallTicks, Stopwatch.GetElapsedTime(start).Ticks);
        }
    }

    private void Stall(Func<bool> stillBlocked, string reason)
    {
        long start = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _stalls);
        ScheduleFlush();
        MaybeScheduleCompaction();
        lock (_mutex)
        {
            while (stillBlocked() && _backgroundError is null && !_shuttingDown)
            {
                Monitor.Wait(_mutex, 100);
            }
        }
        TimeSpan waited = Stopwatch.GetElapsedTime(start);
        Interlocked.Add(ref _stallTicks, waited.Ticks);
        if (waited > TimeSpan.FromSeconds(1))
        {
            LogEvent($"writes stalled {waited.TotalMilliseconds:F0} ms: {reason}");
        }
    }

    /// <summary>Seals the memtable and its WAL and starts new ones. Leader only.</summary>
    private void SwitchMemtable()
    {
        if (_log is not null)
        {
            // Shared commit log: nothing to seal on disk; note what the memtable covers, so that its
            // flush can raise the replay floor and release commit-log segments.
            MemTable sealedMem = _mem;
            sealedMem.SealedSequence = _lastSequence;
            sealedMem.SealedPosition = _logPosition;
            lock (_mutex)
            {
                _imm = [.. _imm, sealedMem];
                _mem = new MemTable(sealedMem.WalNumber, (uint)_random.Next());
            }
            _memLimit = NextMemtableLimit();
            ScheduleFlush();
            return;
        }
        // Sync the old log first: then only the newest log can ever have a torn tail, and recovery
        // never sees a later log survive an earlier one's lost tail.
        SyncWal();
        long number = _versions.NewFileNumber();
        var wal = new LogWriter(_fs.Create(FileNames.Wal(Directory, number)));
        _fs.SyncDirectory(Directory);
        LogWriter old = _wal!;
        lock (_mutex)
        {
            _imm = [.. _imm, _mem];
            _mem = new MemTable(number, (uint)_random.Next());
            _wal = wal;
        }
        old.Dispose();
        _memLimit = NextMemtableLimit();
        ScheduleFlush();
    }

    private sealed class MemInserter : IBatchHandler
    {
        private readonly byte[] _time = new byte[8];
        public MemTable Mem = null!;
        public long Puts;
        public long Deletes;

        public void Put(ulong sequence, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            Mem.Add(sequence, EntryType.Value, key, value);
            Puts++;
        }

        public void Delete(ulong sequence, ReadOnlySpan<byte> key, long unixMillis)
        {
            // A tombstone's value is its deletion time, for the compaction grace period.
            BinaryPrimitives.WriteInt64LittleEndian(_time, unixMillis);
            Mem.Add(sequence, EntryType.Deletion, key, _time);
            Deletes++;
        }
    }
}
