using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Kv.Storage.IO;

using Kv.Storage.Wal;

namespace Kv.Storage;

/// <summary>
/// One write-ahead log shared by every engine of an environment (Cassandra's commit log): engines
/// append their write groups, tagged with their log id, to the same segment file, so one fdatasync
/// makes the concurrent writes of many engines durable (group commit across engines). A segment
/// (<c>NNNNNN.clog</c>) is deleted once every engine that wrote to it has flushed those writes to
/// tables; when more than <see cref="MaxSegments"/> pile up, the engines holding the oldest one are
/// asked to flush. At open, the segments are read once and each engine's records are kept for it to
/// replay when it opens; recovery is point-in-time, as for an engine's own WAL (it stops at the first
/// damaged record; a torn tail of the newest segment is expected after a crash).
/// Segments are preallocated (written as zeros and synced before use, Cassandra's segment allocator),
/// so that an fdatasync commits only the data and no new file size: on this project's VM that
/// halves the time and CPU of each sync. A segment this log wrote is, once clean, kept for reuse
/// (<c>NNNNNN.clog.free</c>) rather than deleted, and the next roll writes over it: its records carry
/// the segment's number (recyclable records), so what the file held before ends the reading. Only
/// when none is free does a roll take a zero-filled one, prepared in the background while the
/// active segment fills (<c>NNNNNN.clog.prep</c> until it is renamed into use).
/// </summary>
public sealed class CommitLog : IDisposable
{
    private const string Suffix = ".clog";
    private const string PreparedSuffix = ".clog.prep";
    private const string FreeSuffix = ".clog.free";
    private readonly IFileSystem _fs;
    private readonly object _appendLock = new();
    private readonly object _syncLock = new();
    private readonly object _fsyncLock = new(); // held around an fdatasync outside the append lock
    // segment number -> (engine log id -> position of its last record in that segment)
    private readonly SortedDictionary<long, Dictionary<ulong, long>> _dirty = [];
    private readonly Dictionary<ulong, List<byte[]>> _recovered = [];
    private LogWriter _writer;
    private long _segment;
    private long _appended;
    private readonly object _flushLock = new();
    private long _flushed; // appended records written to the file (not necessarily synced); under the append lock
    private long _synced;
    private bool _syncing; // a sync round is running or due (the sync thread's signal, under _syncLock)
    private bool _closing; // Dispose began: the sync thread ends once no waiter is left
    private readonly Thread _syncThread;
    private readonly List<(long Position, TaskCompletionSource Waiter)> _syncWaiters = [];
    private Exception? _error;
    private Task<IWritableFile>? _prepared; // a zero-filled file for a next segment
    private string? _preparedPath;
    private readonly Queue<long> _free = new(); // clean segments kept for reuse, oldest first (FreePath)
    private readonly long _firstOwnSegment; // segments from here on were written by this log: recyclable
    private long _reused;

    public CommitLog(string directory, IFileSystem? fileSystem = null, long segmentBytes = 32L << 20, int maxSegments = 8,
        TimeSpan groupWindow = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groupWindow, TimeSpan.Zero);
        GroupWindow = groupWindow;
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentBytes, 64L << 10);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSegments, 2);
        Directory = directory;
        _fs = fileSystem ?? PhysicalFileSystem.Instance;
        SegmentBytes = segmentBytes;
        MaxSegments = maxSegments;
        _fs.CreateDirectory(directory);
        long last = ReadSegments();
        _segment = last + 1;
        _firstOwnSegment = _segment;
        _writer = new LogWriter(_fs.CreatePreallocated(SegmentPath(_segment), SegmentBytes), LogNumber(_segment));
        _fs.SyncDirectory(directory);
        _dirty[_segment] = [];
        DeleteCleanSegments();
        PrepareNext();
        // fdatasyncs run on a thread of their own, not on the thread pool: a sync round blocks for the
        // whole fdatasync (~2 ms on this project's VM), and on a busy node a round is nearly always
        // running, so a pool thread held by it made the pool inject workers (more threads waking each
        // other on few cores) and held up the actors queued behind it.
        _syncThread = new Thread(SyncLoop) { IsBackground = true, Name = "kv-commitlog-sync" };
        _syncThread.Start();
    }

    public string Directory { get; }

    public long SegmentBytes { get; }

    public int MaxSegments { get; }

    /// <summary>
    /// Least time between the starts of two fdatasyncs (Cassandra's group commit window): a sync
    /// due sooner waits for the rest of the window, and the writes arriving meanwhile share it.
    /// Zero: sync at once.
    /// </summary>
    public TimeSpan GroupWindow { get; }

    private long _lastSyncStart;
    private long _syncs;

    /// <summary>fdatasyncs done (group commits), for statistics and tests.</summary>
    public long Syncs => Interlocked.Read(ref _syncs);

    /// <summary>Rolls that wrote over a clean segment instead of taking a zero-filled one.</summary>
    public long SegmentsReused => Interlocked.Read(ref _reused);

    /// <summary>What reading the segments at open found wrong (null if nothing), and the segments set aside.</summary>
    public string? RecoveryNote { get; private set; }

    /// <summary>Segment files now on disk (the active one included).</summary>
    public int SegmentCount
    {
        get
        {
            lock (_appendLock)
            {
                return _dirty.Count;
            }
        }
    }

    /// <summary>Called (outside the log's locks) with the log ids that hold the oldest segment when there are too many.</summary>
    internal Action<IReadOnlyCollection<ulong>>? FlushRequested { get; set; }

    private string SegmentPath(long number) =>
        Path.Combine(Directory, number.ToString("D6", CultureInfo.InvariantCulture) + Suffix);

    private string PreparedPath(long number) => SegmentPath(number)[..^Suffix.Length] + PreparedSuffix;

    private string FreePath(long number) => SegmentPath(number)[..^Suffix.Length] + FreeSuffix;

    /// <summary>The number a segment's records carry (its low 32 bits: a reused file's old records never share it).</summary>
    private static uint LogNumber(long segment) => unchecked((uint)segment);

    /// <summary>Starts zero-filling a file for a next segment, off the write path, unless one is ready or a clean one waits for reuse.</summary>
    private void PrepareNext()
    {
        if (_prepared is not null || _free.Count > 0)
        {
            return;
        }
        string path = PreparedPath(_segment + 1);
        _preparedPath = path;
        _prepared = Task.Run(() => _fs.CreatePreallocated(path, SegmentBytes));
    }

    /// <summary>
    /// The file for segment <paramref name="number"/> (the one after the active segment): the oldest
    /// clean segment kept for reuse, written over; else the prepared one renamed into place (waiting
    /// for it if it is not ready); or, if both failed, a new one made here.
    /// </summary>
    private IWritableFile TakeNext(long number)
    {
        while (_free.TryDequeue(out long old))
        {
            try
            {
                IWritableFile file = _fs.Reuse(FreePath(old));
                try
                {
                    _fs.Rename(FreePath(old), SegmentPath(number));
                    Interlocked.Increment(ref _reused);
                    return file;
                }
                catch
                {
                    file.Dispose();
                    throw;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // try the next one, then the prepared one; a leftover .free file is deleted at the next open
            }
        }
        Task<IWritableFile>? prepared = _prepared;
        string? preparedPath = _preparedPath;
        _prepared = null;
        _preparedPath = null;
        if (prepared is not null)
        {
            try
            {
                IWritableFile file = prepared.GetAwaiter().GetResult();
                try
                {
                    _fs.Rename(preparedPath!, SegmentPath(number));
                    return file;
                }
                catch
                {
                    file.Dispose();
                    throw;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // fall through: make it now (and fail the write if that fails too); a leftover
                // .prep file is deleted at the next open
            }
        }
        return _fs.CreatePreallocated(SegmentPath(number), SegmentBytes);
    }

    /// <summary>At close: the prepared segment and the clean ones kept for reuse are not needed.</summary>
    private void DiscardSpares()
    {
        Task<IWritableFile>? prepared = _prepared;
        _prepared = null;
        try
        {
            while (_free.TryPeek(out long old))
            {
                _fs.Delete(FreePath(old));
                _free.Dequeue();
            }
            if (prepared is not null)
            {
                prepared.GetAwaiter().GetResult().Dispose();
                _fs.Delete(_preparedPath!);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a leftover .prep or .free file is deleted at the next open
        }
    }

    /// <summary>Reads every segment in order, keeping each engine's records; returns the last segment number.</summary>
    private long ReadSegments()
    {
        var segments = new List<long>();
        foreach (string name in _fs.ListFiles(Directory))
        {
            if (name.EndsWith(PreparedSuffix, StringComparison.Ordinal) || name.EndsWith(FreeSuffix, StringComparison.Ordinal))
            {
                _fs.Delete(Path.Combine(Directory, name)); // prepared, or clean and kept for reuse, before a crash
                continue;
            }
            if (name.EndsWith(Suffix, StringComparison.Ordinal)
                && long.TryParse(name.AsSpan(0, name.Length - Suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
            {
                segments.Add(n);
            }
        }
        segments.Sort();
        for (int i = 0; i < segments.Count; i++)
        {
            string path = SegmentPath(segments[i]);
            string name = Path.GetFileName(path);
            var owners = new Dictionary<ulong, long>();
            long tornAt = -1;
            using (IRandomAccessFile file = _fs.OpenRead(path))
            {
                var reader = new LogReader(file, name, preallocated: true, LogNumber(segments[i]));
                while (reader.TryRead(out ReadOnlySpan<byte> record))
                {
                    if (record.Length < 8)
                    {
                        break;
                    }
                    ulong id = BinaryPrimitives.ReadUInt64LittleEndian(record);
                    if (record.Length == 8)
                    {
                        // A dropped engine: none of its records are needed any more.
                        _recovered.Remove(id);
                        owners.Remove(id);
                        foreach (Dictionary<ulong, long> earlier in _dirty.Values)
                        {
                            earlier.Remove(id);
                        }
                        continue;
                    }
                    if (!_recovered.TryGetValue(id, out List<byte[]>? list))
                    {
                        _recovered[id] = list = [];
                    }
                    list.Add(record[8..].ToArray());
                    owners[id] = ++_appended;
                }
                bool last = i == segments.Count - 1;
                if (reader.End == LogEnd.Corruption || (reader.End == LogEnd.TornTail && !last))
                {
                    // Point in time: nothing after the damage is replayed, and the rest is set aside.
                    RecoveryNote = $"{name} is damaged at offset {reader.ErrorOffset} ({reader.ErrorDetail}); replayed the records before it and set aside {name} and {segments.Count - i - 1} later segment(s)";
                    _dirty[segments[i]] = owners;
                    for (int j = i + 1; j < segments.Count; j++)
                    {
                        _fs.Rename(SegmentPath(segments[j]), SegmentPath(segments[j]) + ".corrupt");
                    }
                    _fs.SyncDirectory(Directory);
                    _synced = _appended;
                    return segments[i];
                }
                if (reader.End == LogEnd.TornTail)
                {
                    RecoveryNote = $"{name} ends in a torn record at offset {reader.ErrorOffset} (a crash during a write); replayed the records before it and cut the tail";
                    tornAt = reader.GoodLength;
                }
            }
            if (tornAt >= 0)
            {
                // No longer the newest segment after this open: keep only its good prefix, so that a
                // later open does not take the old tear for damage in the middle of the log.
                CopyPrefix(path, tornAt);
            }
            _dirty[segments[i]] = owners;
        }
        _synced = _appended;
        return segments.Count == 0 ? 0 : segments[^1];
    }

    /// <summary>Replaces <paramref name="path"/> by its first <paramref name="length"/> bytes (write, sync, rename).</summary>
    private void CopyPrefix(string path, long length)
    {
        string temp = path + ".tmp";
        using (IRandomAccessFile source = _fs.OpenRead(path))
        using (IWritableFile target = _fs.Create(temp))
        {
            byte[] buffer = new byte[64 << 10];
            for (long offset = 0; offset < length;)
            {
                int n = source.Read(offset, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - offset)));
                if (n <= 0)
                {
                    break;
                }
                target.Append(buffer.AsSpan(0, n));
                offset += n;
            }
            target.Sync();
        }
        _fs.Rename(temp, path);
        _fs.SyncDirectory(Directory);
    }

    /// <summary>Hands over (once) the records found at open for <paramref name="logId"/>: write batches, oldest first.</summary>
    internal List<byte[]> TakeRecovered(ulong logId)
    {
        lock (_appendLock)
        {
            if (_recovered.Remove(logId, out List<byte[]>? list))
            {
                return list;
            }
            return [];
        }
    }

    /// <summary>Appends one write group of engine <paramref name="logId"/>; returns its position for <see cref="Sync"/>.</summary>
    internal long Append(ulong logId, ReadOnlySpan<byte> batch, bool flush)
    {
        List<ulong>? pressure = null;
        long position;
        byte[] record = ArrayPool<byte>.Shared.Rent(batch.Length + 8);
        try
        {
            BinaryPrimitives.WriteUInt64LittleEndian(record, logId);
            batch.CopyTo(record.AsSpan(8));
            lock (_appendLock)
            {
                ThrowIfFailed();
                try
                {
                    if (_writer.Length >= SegmentBytes)
                    {
                        pressure = Roll();
                    }
                    _writer.AddRecord(record.AsSpan(0, batch.Length + 8));
                }
                catch (Exception e)
                {
                    // The segment may now hold part of a record: refuse everything after it.
                    _error = e;
                    throw;
                }
                position = ++_appended;
                _dirty[_segment][logId] = position;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(record);
        }
        if (flush)
        {
            FlushTo(position);
        }
        if (pressure is { Count: > 0 })
        {
            FlushRequested?.Invoke(pressure);
        }
        return position;
    }

    /// <summary>
    /// Writes the buffered records up to <paramref name="position"/> to the file (the OS has them:
    /// they survive the process, not the machine). One thread writes for all: the engines that
    /// appended meanwhile wait for it and then mostly find their record written, so a burst of
    /// small groups from many engines costs one write, not one each under the append lock.
    /// </summary>
    private void FlushTo(long position)
    {
        lock (_flushLock)
        {
            if (Volatile.Read(ref _flushed) >= position)
            {
                return;
            }
            lock (_appendLock)
            {
                ThrowIfFailed();
                try
                {
                    _writer.Flush();
                }
                catch (Exception e)
                {
                    _error = e; // the segment may now hold part of a record: refuse everything after it
                    throw;
                }
                Volatile.Write(ref _flushed, _appended);
            }
        }
    }

    /// <summary>Seals the active segment durably and starts the next one. Under the append lock.</summary>
    private List<ulong>? Roll()
    {
        long next = _segment + 1;
        lock (_fsyncLock)
        {
            // Under the fsync lock: no fdatasync of the old writer is running when it is closed. The
            // end mark tells a reader where this segment ends, whatever a reused file held after it.
            _writer.MarkEnd();
            _writer.Sync();
            var writer = new LogWriter(TakeNext(next), LogNumber(next));
            _fs.SyncDirectory(Directory);
            _writer.Dispose();
            _writer = writer;
            _segment = next;
        }
        lock (_syncLock)
        {
            _synced = Math.Max(_synced, _appended);
        }
        _dirty[next] = [];
        DeleteCleanSegments();
        PrepareNext();
        if (_dirty.Count <= MaxSegments)
        {
            return null;
        }
        return [.. _dirty.First().Value.Keys];
    }

    /// <summary>
    /// Engine <paramref name="logId"/> is being deleted: records durably that none of its records are
    /// needed (so that no segment waits for it, even after a crash), and releases its segments.
    /// </summary>
    internal void Forget(ulong logId)
    {
        Span<byte> marker = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(marker, logId);
        long position;
        lock (_appendLock)
        {
            ThrowIfFailed();
            try
            {
                _writer.AddRecord(marker);
            }
            catch (Exception e)
            {
                _error = e;
                throw;
            }
            position = ++_appended;
        }
        Sync(position);
        Flushed(logId, long.MaxValue);
    }

    /// <summary>Returns once every record up to <paramref name="position"/> is on stable storage (see <see cref="SyncAsync"/>).</summary>
    internal void Sync(long position) => SyncAsync(position).GetAwaiter().GetResult();

    /// <summary>
    /// Completes once every record up to <paramref name="position"/> is on stable storage. One
    /// fdatasync serves everybody waiting: the log's sync thread runs a round (after the rest of the
    /// group window) whenever somebody waits, and callers wait for it without holding a thread;
    /// whoever a round did not cover gets the next one. (Sleeping out the window on the syncing
    /// thread measured faster than a timer.) Continuations run on the thread pool.
    /// </summary>
    internal Task SyncAsync(long position)
    {
        TaskCompletionSource waiter;
        lock (_syncLock)
        {
            if (_error is not null)
            {
                return Task.FromException(FailedError());
            }
            if (_synced >= position)
            {
                return Task.CompletedTask;
            }
            if (_closing)
            {
                // The sync thread may have ended: nobody would answer.
                return Task.FromException(new ObjectDisposedException(nameof(CommitLog), $"the commit log in {Directory} is closed"));
            }
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _syncWaiters.Add((position, waiter));
            if (!_syncing)
            {
                _syncing = true;
                Monitor.Pulse(_syncLock); // wakes the sync thread
            }
        }
        return waiter.Task;
    }

    /// <summary>The sync thread: one round whenever somebody waits, until the log is disposed and nobody does.</summary>
    private void SyncLoop()
    {
        while (true)
        {
            lock (_syncLock)
            {
                while (!_syncing && !_closing)
                {
                    Monitor.Wait(_syncLock);
                }
                if (!_syncing)
                {
                    return; // closing, and nobody waits
                }
            }
            SyncRound();
        }
    }

    /// <summary>Whether a sync round is running or queued (for tests).</summary>
    internal bool SyncRunning
    {
        get
        {
            lock (_syncLock)
            {
                return _syncing;
            }
        }
    }

    /// <summary>One fdatasync for every record appended so far; then completes the waiters it covered.</summary>
    private void SyncRound()
    {
        Exception? error = null;
        try
        {
            if (GroupWindow > TimeSpan.Zero)
            {
                TimeSpan wait = GroupWindow - System.Diagnostics.Stopwatch.GetElapsedTime(_lastSyncStart);
                if (wait > TimeSpan.Zero)
                {
                    // Rounded up: Thread.Sleep(TimeSpan) truncates to whole milliseconds, which
                    // made a 2 ms window as short as 1 ms.
                    Thread.Sleep((int)Math.Ceiling(wait.TotalMilliseconds));
                }
                _lastSyncStart = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            long upTo;
            long bytes;
            LogWriter writer;
            lock (_appendLock)
            {
                ThrowIfFailed();
                upTo = _appended;
                try
                {
                    _writer.Flush();
                }
                catch (Exception e)
                {
                    _error = e;
                    throw;
                }
                bytes = _writer.Length;
                writer = _writer;
            }
            // The fdatasync runs without the append lock, so that other engines keep appending
            // (the next group) meanwhile.
            lock (_fsyncLock)
            {
                if (writer == _writer)
                {
                    try
                    {
                        writer.SyncFlushed(bytes);
                        Interlocked.Increment(ref _syncs);
                    }
                    catch (Exception e)
                    {
                        _error = e;
                        throw;
                    }
                }
                // else: a roll sealed (synced) that segment already
            }
            lock (_syncLock)
            {
                _synced = Math.Max(_synced, upTo);
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        List<TaskCompletionSource>? done = null;
        List<TaskCompletionSource>? failed = null;
        lock (_syncLock)
        {
            if (error is not null || _error is not null)
            {
                failed = [.. _syncWaiters.Select(w => w.Waiter)];
                _syncWaiters.Clear();
            }
            else
            {
                for (int i = _syncWaiters.Count - 1; i >= 0; i--)
                {
                    if (_syncWaiters[i].Position <= _synced)
                    {
                        (done ??= []).Add(_syncWaiters[i].Waiter);
                        _syncWaiters.RemoveAt(i);
                    }
                }
            }
            _syncing = _syncWaiters.Count > 0; // the sync thread goes round again at once
        }
        if (failed is not null)
        {
            Exception reported = _error is null ? error! : FailedError();
            foreach (TaskCompletionSource w in failed)
            {
                w.TrySetException(reported);
            }
        }
        if (done is not null)
        {
            foreach (TaskCompletionSource w in done)
            {
                w.TrySetResult();
            }
        }
    }

    /// <summary>The position of the newest record appended.</summary>
    internal long Position
    {
        get
        {
            lock (_appendLock)
            {
                return _appended;
            }
        }
    }

    /// <summary>
    /// Engine <paramref name="logId"/> has every record it appended up to <paramref name="position"/>
    /// in its tables (or no longer needs them): segments nobody else needs are deleted.
    /// </summary>
    internal void Flushed(ulong logId, long position)
    {
        lock (_appendLock)
        {
            foreach (Dictionary<ulong, long> owners in _dirty.Values)
            {
                if (owners.TryGetValue(logId, out long last) && last <= position)
                {
                    owners.Remove(logId);
                }
            }
            _recovered.Remove(logId);
            DeleteCleanSegments();
        }
    }

    private void DeleteCleanSegments()
    {
        List<long>? clean = null;
        foreach ((long segment, Dictionary<ulong, long> owners) in _dirty)
        {
            if (segment != _segment && owners.Count == 0)
            {
                (clean ??= []).Add(segment);
            }
        }
        if (clean is null)
        {
            return;
        }
        foreach (long segment in clean)
        {
            try
            {
                // One this log wrote is kept for a next segment to write over (no zero-fill, and its
                // pages are likely still cached), as long as the segments in use and the kept ones
                // stay within the log's total size.
                if (segment >= _firstOwnSegment && _dirty.Count - 1 + _free.Count < MaxSegments)
                {
                    _fs.Rename(SegmentPath(segment), FreePath(segment));
                    _free.Enqueue(segment);
                }
                else
                {
                    _fs.Delete(SegmentPath(segment));
                }
                _dirty.Remove(segment);
            }
            catch (IOException)
            {
                // kept; retried at the next flush
            }
        }
    }

    private void ThrowIfFailed()
    {
        if (_error is not null)
        {
            throw FailedError();
        }
    }

    private IOException FailedError() =>
        new($"the commit log in {Directory} failed earlier and accepts no more writes: {_error!.Message}", _error);

    public void Dispose()
    {
        lock (_syncLock)
        {
            _closing = true;
            Monitor.Pulse(_syncLock);
        }
        lock (_appendLock)
        lock (_fsyncLock)
        {
            DiscardSpares();
            try
            {
                if (_error is null)
                {
                    _writer.MarkEnd();
                    _writer.Sync();
                }
                _writer.Dispose();
            }
            catch (IOException e)
            {
                // The tail may not be durable: keep every segment, so that the next open replays
                // what it can (and a per-vnode start is refused) rather than lose it silently.
                _error ??= e;
                CloseError = e;
            }
            if (_error is null && _recovered.Count == 0 && _dirty.Values.All(owners => owners.Count == 0))
            {
                // Every engine closed cleanly (flushed): the log holds nothing anybody needs, and an
                // empty directory tells the next start that it may run without it.
                try
                {
                    foreach (long segment in _dirty.Keys)
                    {
                        _fs.Delete(SegmentPath(segment));
                    }
                    _fs.SyncDirectory(Directory);
                }
                catch (IOException e)
                {
                    CloseError = e; // segments left behind: harmless, replayed (as no-ops) at the next open
                }
            }
        }
        // A round still running fails its waiters on the closed writer; then the thread ends.
        _syncThread.Join(TimeSpan.FromSeconds(10));
    }

    /// <summary>What went wrong closing the log (null if nothing): its tail may not be durable, or segments were left.</summary>
    public Exception? CloseError { get; private set; }
}
