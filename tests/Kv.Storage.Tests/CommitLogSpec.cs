using System.Text;
using Kv.Storage.IO;
using static Kv.Storage.Tests.EngineHarness;

namespace Kv.Storage.Tests;

/// <summary>Engines sharing one commit log: durability across power cuts, replay floors, segment release.</summary>
public sealed class CommitLogSpec : IDisposable
{
    private const string LogDir = "/commitlog";
    private readonly FaultInjectionFileSystem _fs = new();
    private StorageEnvironment _env;
    private readonly LsmEngine?[] _engines = new LsmEngine?[3];

    public CommitLogSpec() => _env = NewEnv();

    private StorageEnvironment NewEnv(long segmentBytes = 64 << 10, int maxSegments = 4) =>
        new(blockCacheBytes: 1 << 20, memtableBudgetBytes: 64L << 20, flushThreads: 1, compactionThreads: 1,
            commitLog: new CommitLog(LogDir, _fs, segmentBytes, maxSegments));

    private StorageOptions Options => Small with { FileSystem = _fs, Environment = _env };

    private LsmEngine Open(int i) => _engines[i] = LsmEngine.Open($"/db{i}", Options);

    private void OpenAll()
    {
        for (int i = 0; i < _engines.Length; i++)
            Open(i);
    }

    private void CloseAll()
    {
        for (int i = 0; i < _engines.Length; i++)
        {
            try
            {
                _engines[i]?.Dispose();
            }
            catch (IOException)
            {
            }
            _engines[i] = null;
        }
        _env.Dispose();
    }

    private void PowerCut(Random? torn)
    {
        _fs.FailWrites = true;
        CloseAll();
        _fs.FailWrites = false;
        // A close that could not make everything durable keeps the segments for the next open.
        Assert.Contains(_fs.ListFiles(LogDir), name => name.EndsWith(".clog", StringComparison.Ordinal));
        _fs.Crash(torn);
        _env = NewEnv();
        OpenAll();
    }

    private static long Present(LsmEngine e, string prefix)
    {
        long n = 0;
        using StorageIterator it = e.NewIterator(ReadOptions.ForPrefix(B(prefix)));
        for (it.SeekToFirst(); it.Valid; it.Next(), n++)
        {
            Assert.Equal($"{prefix}{n:D8}", Encoding.ASCII.GetString(it.Key));
            Assert.StartsWith($"value-{n}-", Encoding.ASCII.GetString(it.Value), StringComparison.Ordinal);
        }
        return n;
    }

    /// <summary>
    /// Random writes across the engines, one in ten durable (and, with <paramref name="flushOneIn"/>,
    /// now and then a flush); returns, per engine, the last write that must survive a power cut.
    /// </summary>
    private long[] WriteRound(Random rng, long[] next, int writes, int flushOneIn = 0)
    {
        var lastDurable = new long[3];
        for (int i = 0; i < 3; i++)
            lastDurable[i] = next[i] - 1;
        for (int w = 0; w < writes; w++)
        {
            int e = rng.Next(3);
            bool durable = rng.Next(10) == 0;
            _engines[e]!.Put(B($"w{next[e]:D8}"), B($"value-{next[e]}-{new string('x', rng.Next(300))}"), durable);
            if (durable)
            {
                // A durable write makes everything appended before it durable too, in every engine.
                for (int i = 0; i < 3; i++)
                    lastDurable[i] = next[i] - 1;
                lastDurable[e] = next[e];
            }
            next[e]++;
            if (flushOneIn > 0 && rng.Next(flushOneIn) == 0)
                _engines[rng.Next(3)]!.Flush();
        }
        return lastDurable;
    }

    /// <summary>After a power cut: every engine holds a prefix of its writes with every durable one, and no corruption; true if any lost writes.</summary>
    private bool CheckRecovered(int round, long[] lastDurable, long[] next)
    {
        bool lost = false;
        for (int i = 0; i < 3; i++)
        {
            long present = Present(_engines[i]!, "w");
            Assert.True(present > lastDurable[i], $"round {round}: engine {i} lost durable write {lastDurable[i]} (recovered {present})");
            Assert.Null(_engines[i]!.Recovery.Corruption);
            lost |= present < next[i];
            next[i] = present;
        }
        return lost;
    }

    [Fact]
    public void After_power_cuts_each_engine_holds_a_prefix_of_its_writes_with_every_durable_one()
    {
        var rng = new Random(11);
        OpenAll();
        var next = new long[3];
        int lossRounds = 0;
        for (int round = 0; round < 25; round++)
        {
            long[] lastDurable = WriteRound(rng, next, rng.Next(100, 2000));
            PowerCut(rng.Next(2) == 0 ? rng : null);
            if (CheckRecovered(round, lastDurable, next))
                lossRounds++;
            Assert.True(_env.CommitLog!.SegmentCount <= 12, $"round {round}: {_env.CommitLog.SegmentCount} segments kept");
        }
        Assert.True(lossRounds > 3, "the power cuts should lose unsynced writes");
    }

    [Fact]
    public void Clean_segments_are_written_over_and_power_cuts_still_keep_every_durable_write()
    {
        var rng = new Random(5);
        OpenAll();
        var next = new long[3];
        long reused = 0;
        for (int round = 0; round < 12; round++)
        {
            // Flushes now and then: segments fall clean and are kept for reuse.
            long[] lastDurable = WriteRound(rng, next, rng.Next(2000, 4000), flushOneIn: 500);
            reused += _env.CommitLog!.SegmentsReused;
            // Segments in use and clean ones kept for reuse: no more than the log's total size (4 segments).
            Assert.True(_fs.ListFiles(LogDir).Count(name => name.EndsWith(".clog.free", StringComparison.Ordinal)) <= Math.Max(0, 4 - _env.CommitLog.SegmentCount));
            PowerCut(rng.Next(2) == 0 ? rng : null);
            CheckRecovered(round, lastDurable, next);
            Assert.Null(_env.CommitLog!.RecoveryNote is { } note && note.Contains("damaged", StringComparison.Ordinal) ? note : null);
        }
        Assert.True(reused > 10, $"{reused} segments reused");
    }

    [Fact]
    public void Reopening_replays_only_what_no_flush_holds_and_flushed_segments_are_deleted()
    {
        OpenAll();
        for (int n = 0; n < 3000; n++)
            _engines[n % 3]!.Put(B($"k{n:D6}"), B($"v{n}-{new string('y', 100)}"));
        _engines[0]!.Flush();
        for (int n = 3000; n < 3300; n++)
            _engines[n % 3]!.Put(B($"k{n:D6}"), B($"v{n}-{new string('y', 100)}"), durable: n % 50 == 0);
        CloseAll();
        // A clean close flushed every engine, so the log kept nothing.
        Assert.DoesNotContain(_fs.ListFiles(LogDir), name => name.EndsWith(".clog", StringComparison.Ordinal));
        _env = NewEnv();
        OpenAll();
        for (int n = 0; n < 3300; n++)
            Assert.Equal($"v{n}-{new string('y', 100)}", S(_engines[n % 3]!.Get(B($"k{n:D6}"))));
        // Recovery put everything in tables, so the log needs none of the old segments.
        Assert.Equal(1, _env.CommitLog!.SegmentCount);
        for (int n = 0; n < 3000; n++)
            _engines[n % 3]!.Put(B($"k{n:D6}"), B($"again{n}"));
        foreach (LsmEngine? e in _engines)
            e!.Flush();
        Assert.True(_env.CommitLog.SegmentCount <= 2, $"{_env.CommitLog.SegmentCount} segments after every engine flushed");
        CloseAll();
        _env = NewEnv();
        OpenAll();
        for (int n = 0; n < 3300; n++)
            Assert.Equal(n < 3000 ? $"again{n}" : $"v{n}-{new string('y', 100)}", S(_engines[n % 3]!.Get(B($"k{n:D6}"))));
    }

    [Fact]
    public async Task An_idle_engine_is_made_to_flush_when_segments_pile_up()
    {
        OpenAll();
        _engines[0]!.Put(B("idle"), B("one small write"), durable: true);
        for (int n = 0; n < 20000; n++)
            _engines[1]!.Put(B($"busy{n:D6}"), B(new string('z', 200)));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_env.CommitLog!.SegmentCount > 6 && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.True(_env.CommitLog.SegmentCount <= 6, $"{_env.CommitLog.SegmentCount} segments held (max 4): the idle engine was not flushed");
        Assert.Equal("one small write", S(_engines[0]!.Get(B("idle"))));
    }

    [Fact]
    public void Durable_writes_of_many_engines_share_fsyncs_no_closer_than_the_group_window()
    {
        _env.Dispose();
        _env = new StorageEnvironment(blockCacheBytes: 1 << 20, memtableBudgetBytes: 64L << 20, flushThreads: 1, compactionThreads: 1,
            commitLog: new CommitLog(LogDir, _fs, 64 << 10, 4, groupWindow: TimeSpan.FromMilliseconds(20)));
        OpenAll();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Dedicated threads: twelve writers really at once (the thread pool would start them slowly).
        var writers = Enumerable.Range(0, 12).Select(t => new Thread(() =>
        {
            for (int n = 0; n < 20; n++)
                _engines[t % 3]!.Put(B($"t{t}-{n}"), B("v"), durable: true);
        })).ToList();
        writers.ForEach(w => w.Start());
        writers.ForEach(w => w.Join());
        long syncs = _env.CommitLog!.Syncs;
        double windows = clock.Elapsed.TotalMilliseconds / 20;
        Assert.True(syncs <= windows + 2, $"{syncs} fsyncs in {clock.ElapsedMilliseconds} ms: closer than the 20 ms window");
        Assert.True(syncs < 240 / 2, $"{syncs} fsyncs for 240 durable writes from 12 threads: no sharing");
        PowerCutAndCheckAll(12, 20);
    }

    [Fact]
    public async Task Callers_waiting_for_a_sync_hold_no_thread_one_fsync_serves_them_all_and_a_failed_one_fails_them_all()
    {
        using var log = new CommitLog("/waiters", _fs, 64 << 10, 4, groupWindow: TimeSpan.FromSeconds(3));
        // No sync for a while: the log's sync thread runs one at once; the caller only waits.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await log.SyncAsync(log.Append(1, B("first"), flush: false)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(clock.ElapsedMilliseconds < 1500, $"the first sync took {clock.ElapsedMilliseconds} ms: it waited for a window");
        Assert.Equal(1, log.Syncs);
        // The next one is due only after the rest of the window: its caller gets a pending task at once...
        clock.Restart();
        Task second = log.SyncAsync(log.Append(1, B("second"), flush: false));
        Assert.False(second.IsCompleted);
        Assert.True(log.SyncRunning);
        // ...and so do callers arriving meanwhile, who share that sync.
        var waiting = Enumerable.Range(0, 50).Select(n => log.SyncAsync(log.Append((ulong)(n % 3 + 1), B($"r{n}"), flush: false))).ToList();
        Assert.True(clock.ElapsedMilliseconds < 300, $"51 calls took {clock.ElapsedMilliseconds} ms: a caller waited for the window");
        Assert.All(waiting, t => Assert.False(t.IsCompleted));
        await Task.WhenAll(waiting.Append(second)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, log.Syncs);
        Assert.False(log.SyncRunning);
        // A failed sync fails everybody waiting for it, and every sync after it.
        _fs.FailWrites = true;
        Task failed = Task.Run(() => log.SyncAsync(log.Append(1, B("late"), flush: false)));
        await Assert.ThrowsAnyAsync<IOException>(() => failed.WaitAsync(TimeSpan.FromSeconds(10)));
        _fs.FailWrites = false;
        await Assert.ThrowsAnyAsync<IOException>(() => log.SyncAsync(long.MaxValue));
    }

    [Fact]
    public async Task A_sync_asked_of_a_closed_log_fails_instead_of_waiting_forever()
    {
        var log = new CommitLog("/closed", _fs, 64 << 10, 4);
        long position = log.Append(1, B("last"), flush: false);
        log.Dispose(); // syncs the tail and ends the sync thread
        // Nobody is left to run a round: the caller hears so at once (a TimeoutException here is the hang).
        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.SyncAsync(position).WaitAsync(TimeSpan.FromSeconds(5)));
    }

    private void PowerCutAndCheckAll(int threads, int perThread)
    {
        PowerCut(null);
        for (int t = 0; t < threads; t++)
            for (int n = 0; n < perThread; n++)
                Assert.Equal("v", S(_engines[t % 3]!.Get(B($"t{t}-{n}"))));
    }

    [Fact]
    public void A_deleted_engine_holds_no_segment_even_after_a_power_cut()
    {
        OpenAll();
        for (int n = 0; n < 2000; n++)
            _engines[n % 3]!.Put(B($"k{n:D6}"), B(new string('q', 150)));
        _engines[2]!.Put(B("last"), B("x"), durable: true);
        _engines[2]!.DisposeAndDelete();
        _engines[2] = null;
        _engines[0]!.Flush();
        _engines[1]!.Flush();
        Assert.True(_env.CommitLog!.SegmentCount <= 2, $"{_env.CommitLog.SegmentCount} segments after the others flushed");
        _fs.FailWrites = true;
        CloseAll();
        _fs.FailWrites = false;
        _fs.Crash();
        _env = NewEnv();
        Open(0);
        Open(1);
        Assert.Equal(1, _env.CommitLog!.SegmentCount);
        Assert.False(_fs.Exists("/db2/CURRENT"));
    }

    [Fact]
    public async Task On_disk_segments_are_preallocated_the_next_one_is_prepared_ahead_and_all_of_it_replays()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            const long segment = 256 << 10;
            var log = new CommitLog(dir, segmentBytes: segment, maxSegments: 64);
            Assert.Equal(segment, new FileInfo(System.IO.Path.Combine(dir, "000001.clog")).Length);
            var written = new Dictionary<ulong, List<string>> { [1] = [], [2] = [] };
            for (int n = 0; n < 3000; n++)
            {
                ulong id = (ulong)(n % 2 + 1);
                string record = $"record {n} {new string('r', 200)}";
                written[id].Add(record);
                long position = log.Append(id, Encoding.ASCII.GetBytes(record), flush: true);
                if (n % 100 == 0)
                    log.Sync(position);
            }
            log.Sync(log.Position);
            string[] segments = Directory.GetFiles(dir, "*.clog");
            Assert.True(segments.Length >= 3, $"{segments.Length} segments for ~650 KB of records");
            // Every segment still has its preallocated size (the last record may run past it).
            Assert.All(segments, path => Assert.InRange(new FileInfo(path).Length, segment, segment + 1024));
            var deadline = DateTime.UtcNow.AddSeconds(10);
            // Zero-filled in the background: its file appears first and reaches its size when done.
            while (!Directory.GetFiles(dir, "*.clog.prep").Any(path => new FileInfo(path).Length == segment) && DateTime.UtcNow < deadline)
                await Task.Delay(10);
            string prepared = Assert.Single(Directory.GetFiles(dir, "*.clog.prep"));
            Assert.Equal(segment, new FileInfo(prepared).Length);
            log.Dispose();
            Assert.Empty(Directory.GetFiles(dir, "*.clog.prep"));
            // A prepared segment left by a crash is removed at open, not read as a segment.
            File.WriteAllBytes(System.IO.Path.Combine(dir, "000099.clog.prep"), new byte[segment]);
            using var reopened = new CommitLog(dir, segmentBytes: segment, maxSegments: 64);
            Assert.Null(reopened.RecoveryNote);
            foreach ((ulong id, List<string> records) in written)
                Assert.Equal(records, reopened.TakeRecovered(id).Select(b => Encoding.ASCII.GetString(b)));
            Assert.DoesNotContain(Directory.GetFiles(dir), path => path.EndsWith("000099.clog.prep", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void On_disk_a_flushed_append_is_in_the_file_when_it_returns_even_when_another_engine_wrote_it()
    {
        // Engines append concurrently and one of them writes the buffered records of all (FlushTo):
        // whoever returns from a flushed append must find its record in the file, where a process
        // killed right then leaves it. The copy of the segments stands for what the killed process leaves.
        string dir = TestPaths.NewTempDir();
        string copy = dir + "-killed";
        try
        {
            var log = new CommitLog(dir, segmentBytes: 1 << 20, maxSegments: 64);
            var written = new Dictionary<ulong, List<string>>();
            var threads = Enumerable.Range(1, 4).Select(t =>
            {
                var mine = written[(ulong)t] = [];
                return new Thread(() =>
                {
                    for (int n = 0; n < 2000; n++)
                    {
                        string record = $"engine {t} record {n}";
                        log.Append((ulong)t, Encoding.ASCII.GetBytes(record), flush: true);
                        mine.Add(record);
                    }
                });
            }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Directory.CreateDirectory(copy);
            foreach (string path in Directory.GetFiles(dir, "*.clog"))
                File.Copy(path, System.IO.Path.Combine(copy, System.IO.Path.GetFileName(path)));
            using var reopened = new CommitLog(copy, segmentBytes: 1 << 20, maxSegments: 64);
            foreach ((ulong id, List<string> records) in written)
                Assert.Equal(records, reopened.TakeRecovered(id).Select(b => Encoding.ASCII.GetString(b)));
            log.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            if (Directory.Exists(copy))
                Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public void On_disk_clean_segments_are_written_over_and_replay_yields_the_newest_records_in_order_and_nothing_old()
    {
        string dir = TestPaths.NewTempDir();
        string copy = dir + "-crash";
        try
        {
            const long segment = 256 << 10;
            var log = new CommitLog(dir, segmentBytes: segment, maxSegments: 64);
            var written = new List<string>();
            int unflushed = 0;
            for (int n = 0; n < 8000; n++)
            {
                string record = $"record {n} {new string('r', n % 500)}";
                long position = log.Append(1, Encoding.ASCII.GetBytes(record), flush: true);
                written.Add(record);
                unflushed++;
                if (n % 700 == 699)
                {
                    log.Sync(position);
                    log.Flushed(1, position);
                    unflushed = 0;
                }
            }
            log.Sync(log.Position);
            // Segments in use and clean ones kept for reuse: no more than the log's total size.
            string[] free = Directory.GetFiles(dir, "*.clog.free");
            Assert.True(free.Length + log.SegmentCount <= 64, $"{free.Length} kept, {log.SegmentCount} in use");
            Assert.True(log.SegmentsReused >= 5, $"{log.SegmentsReused} segments reused");
            // A crash now (everything synced, nothing closed): a copy of the files as they are.
            Directory.CreateDirectory(copy);
            foreach (string path in Directory.GetFiles(dir))
                File.Copy(path, System.IO.Path.Combine(copy, System.IO.Path.GetFileName(path)));
            log.Dispose();
            Assert.Empty(Directory.GetFiles(dir, "*.clog.free"));
            foreach (string d in new[] { dir, copy })
            {
                using var reopened = new CommitLog(d, segmentBytes: segment, maxSegments: 64);
                // Closed, the active segment ends with an end mark; crashed, what the reused file held
                // after its records may read as a torn tail, never as damage.
                Assert.True(d == copy ? reopened.RecoveryNote is null || reopened.RecoveryNote.Contains("torn", StringComparison.Ordinal) : reopened.RecoveryNote is null, reopened.RecoveryNote);
                // The segments still held, read whole: the newest records in order, every unflushed
                // one among them, none of what the reused files held before.
                List<string> recovered = [.. reopened.TakeRecovered(1).Select(b => Encoding.ASCII.GetString(b))];
                Assert.InRange(recovered.Count, unflushed, 4000);
                Assert.Equal(written[^recovered.Count..], recovered);
                Assert.Empty(Directory.GetFiles(d, "*.clog.free"));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            if (Directory.Exists(copy))
                Directory.Delete(copy, recursive: true);
        }
    }

    public void Dispose()
    {
        foreach (LsmEngine? e in _engines)
        {
            try
            {
                e?.Dispose();
            }
            catch (IOException)
            {
            }
        }
        _env.Dispose();
    }
}
