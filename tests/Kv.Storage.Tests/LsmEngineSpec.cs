using static Kv.Storage.Tests.EngineHarness;

namespace Kv.Storage.Tests;

public class LsmEngineSpec
{
    [Fact]
    public void Put_get_delete_and_overwrite()
    {
        using var h = new EngineHarness();
        h.Engine.Put(B("a"), B("1"));
        h.Engine.Put(B("b"), B("2"));
        h.Engine.Put(B("a"), B("3"));
        h.Engine.Delete(B("b"));
        Assert.Equal("3", S(h.Engine.Get(B("a"))));
        Assert.Null(h.Engine.Get(B("b")));
        Assert.Null(h.Engine.Get(B("c")));
        h.Engine.Put(B("empty"), []);
        Assert.Equal(Array.Empty<byte>(), h.Engine.Get(B("empty"))!);
    }

    [Fact]
    public void A_pinned_read_keeps_its_bytes_through_overwrites_flushes_compactions_and_deletes()
    {
        using var h = new EngineHarness();
        h.Engine.Put(B("k"), B("from-the-memtable"));
        Assert.True(h.Engine.TryGet(B("k"), out ReadOnlyMemory<byte> fromMemtable));
        h.Engine.Flush();
        Assert.True(h.Engine.TryGet(B("k"), out ReadOnlyMemory<byte> fromTable));
        Assert.Equal("from-the-memtable", S(fromTable.ToArray()));
        // What the engine does next never changes bytes a reader already holds.
        for (int i = 0; i < 2000; i++)
        {
            h.Engine.Put(B($"k{i:D4}"), B(new string((char)('a' + (i % 26)), 100)));
        }
        h.Engine.Put(B("k"), B("overwritten-value"));
        h.Engine.CompactRange();
        h.Engine.Delete(B("k"));
        h.Engine.CompactRange();
        Assert.Equal("from-the-memtable", S(fromMemtable.ToArray()));
        Assert.Equal("from-the-memtable", S(fromTable.ToArray()));
        Assert.False(h.Engine.TryGet(B("k"), out ReadOnlyMemory<byte> gone));
        Assert.True(gone.IsEmpty);
        Assert.False(h.Engine.TryGet(B("never"), out _));
        Assert.True(h.Engine.TryGet(B("k0007"), out ReadOnlyMemory<byte> other));
        Assert.Equal(new string('h', 100), S(other.ToArray()));
    }

    [Fact]
    public void Data_survives_flush_compaction_and_reopen()
    {
        using var h = new EngineHarness();
        for (int i = 0; i < 5000; i++)
        {
            h.Engine.Put(B($"key{i:D5}"), B($"value{i}-{new string('x', 50)}"));
        }
        for (int i = 0; i < 5000; i += 3)
        {
            h.Engine.Delete(B($"key{i:D5}"));
        }
        h.Engine.CompactRange();
        StorageStatistics s = h.Engine.GetStatistics();
        Assert.True(s.Flushes > 0);
        Assert.Equal(0, s.LevelFiles[0]);
        h.Reopen();
        for (int i = 0; i < 5000; i++)
        {
            byte[]? v = h.Engine.Get(B($"key{i:D5}"));
            Assert.Equal(i % 3 == 0 ? "<null>" : $"value{i}-{new string('x', 50)}", S(v));
        }
    }

    [Fact]
    public void A_snapshot_keeps_its_view_through_writes_flushes_and_compactions()
    {
        using var h = new EngineHarness();
        h.Engine.Put(B("k"), B("old"));
        h.Engine.Put(B("gone"), B("here"));
        using Snapshot snap = h.Engine.GetSnapshot();
        h.Engine.Put(B("k"), B("new"));
        h.Engine.Delete(B("gone"));
        h.Engine.Put(B("later"), B("x"));
        h.Engine.CompactRange();
        Assert.Equal("old", S(h.Engine.Get(B("k"), snap)));
        Assert.Equal("here", S(h.Engine.Get(B("gone"), snap)));
        Assert.Null(h.Engine.Get(B("later"), snap));
        Assert.Equal("new", S(h.Engine.Get(B("k"))));
        using StorageIterator it = h.Engine.NewIterator(new ReadOptions { Snapshot = snap });
        var keys = new List<string>();
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            keys.Add(S(it.Key.ToArray()) + "=" + S(it.Value.ToArray()));
        }
        Assert.Equal(["gone=here", "k=old"], keys);
    }

    [Fact]
    public void A_flush_leaves_out_versions_no_snapshot_can_see_and_keeps_the_rest()
    {
        using var h = new EngineHarness();
        h.Engine.Put(B("deleted"), B("in-an-older-table"));
        h.Engine.Flush();
        for (int i = 0; i < 100; i++)
        {
            h.Engine.Put(B("hot"), B($"v{i}"));
        }
        h.Engine.Put(B("deleted"), B("overwritten"));
        h.Engine.Delete(B("deleted"));
        h.Engine.Put(B("held"), B("seen-by-the-snapshot"));
        using Snapshot snap = h.Engine.GetSnapshot();
        h.Engine.Put(B("held"), B("after-the-snapshot"));
        h.Engine.Flush();

        // Left out: 99 hidden versions of "hot" and the value under "deleted"'s tombstone. Kept:
        // the tombstone (it hides the older table's value) and both versions of "held" (the
        // older one is the snapshot's).
        Assert.Equal(100, h.Engine.GetStatistics().FlushDroppedEntries);
        Assert.Equal("v99", S(h.Engine.Get(B("hot"))));
        Assert.Equal("after-the-snapshot", S(h.Engine.Get(B("held"))));
        Assert.Equal("seen-by-the-snapshot", S(h.Engine.Get(B("held"), snap)));
        Assert.Null(h.Engine.Get(B("deleted")));
        Assert.Null(h.Engine.Get(B("deleted"), snap));
        h.Reopen();
        Assert.Equal("v99", S(h.Engine.Get(B("hot"))));
        Assert.Null(h.Engine.Get(B("deleted")));
        Assert.Equal("after-the-snapshot", S(h.Engine.Get(B("held"))));
    }

    [Fact]
    public void Iterators_respect_bounds_and_prefixes()
    {
        using var h = new EngineHarness();
        foreach (string k in new[] { "a", "ab", "abc", "abd", "ac", "b", "b\xff" })
        {
            h.Engine.Put(B(k), B(k.ToUpperInvariant()));
        }
        h.Engine.Delete(B("abd"));
        Assert.Equal(["ab", "abc"], h.Engine.ScanPrefix(B("ab")).Select(kv => S(kv.Key)));
        using StorageIterator it = h.Engine.NewIterator(new ReadOptions { LowerBound = B("ab"), UpperBound = B("b") });
        var seen = new List<string>();
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            seen.Add(S(it.Key.ToArray()));
        }
        Assert.Equal(["ab", "abc", "ac"], seen);
        it.Seek(B("abc0"));
        Assert.Equal("ac", S(it.Key.ToArray()));
        Assert.Null(ReadOptions.PrefixSuccessor([0xFF, 0xFF]));
        Assert.Equal(new byte[] { 0x01 }, ReadOptions.PrefixSuccessor([0x00, 0xFF]));
    }

    [Fact]
    public void Bad_arguments_get_clear_errors()
    {
        using var h = new EngineHarness();
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => h.Engine.Put([], B("v"))).Message, StringComparison.Ordinal);
        Assert.Contains("66561", Assert.Throws<ArgumentException>(() => h.Engine.Put(new byte[LsmEngine.MaxKeySize + 1], B("v"))).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => h.Engine.Get([]));
        Assert.Throws<ArgumentException>(() => new WriteBatch().Put(B("k"), new byte[LsmEngine.MaxValueSize + 1]));
        Assert.Throws<ArgumentException>(() => LsmEngine.Open("/x", new StorageOptions { FileSystem = h.Fs, WriteBufferSize = 10 }));
        h.Engine.Put(new byte[LsmEngine.MaxKeySize], B("max key is fine"));
        var other = LsmEngine.Open("/other", new StorageOptions { FileSystem = h.Fs });
        Snapshot foreign = other.GetSnapshot();
        Assert.Throws<ArgumentException>(() => h.Engine.Get(B("k"), foreign));
        other.Dispose();
        h.Engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => h.Engine.Put(B("k"), B("v")));
        Assert.Throws<ObjectDisposedException>(() => h.Engine.Get(B("k")));
    }

    [Fact]
    public void A_directory_open_elsewhere_is_refused_even_by_another_process()
    {
        string dir = TestPaths.NewTempDir();
        using (var engine = LsmEngine.Open(dir))
        {
            var e = Assert.Throws<StorageLockedException>(() => LsmEngine.Open(dir));
            Assert.Contains("already in use", e.Message, StringComparison.Ordinal);
            // A separate process (the kv tool) is refused too, with exit code 4.
            (int code, _, string err) = CliRunner.Run("storage", "get", "k", "--dir", dir);
            Assert.Equal(4, code);
            Assert.Contains("already in use", err, StringComparison.Ordinal);
        }
        using var reopened = LsmEngine.Open(dir);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Missing_directory_without_create_if_missing_is_an_error()
    {
        var fs = new Kv.Storage.IO.FaultInjectionFileSystem();
        Assert.Throws<DirectoryNotFoundException>(() => LsmEngine.Open("/none", new StorageOptions { FileSystem = fs, CreateIfMissing = false }));
    }

    [Fact]
    public async Task Async_and_batched_writes_are_atomic_and_ordered()
    {
        using var h = new EngineHarness();
        var tasks = new List<Task>();
        for (int t = 0; t < 50; t++)
        {
            var batch = new WriteBatch();
            for (int i = 0; i < 20; i++)
            {
                batch.Put(B($"t{t:D2}/{i:D2}"), B($"{t}:{i}"));
            }
            tasks.Add(h.Engine.WriteAsync(batch, durable: t % 2 == 0));
        }
        await Task.WhenAll(tasks);
        await h.Engine.DeleteAsync(B("t00/00"), durable: true);
        Assert.Equal(999, h.Engine.ScanPrefix(B("t")).Count());
        Assert.Equal((ulong)1001, h.Engine.LastSequence);
    }

    [Fact]
    public async Task Callback_writes_hear_once_after_their_commit_errors_included_and_a_throwing_callback_stops_nobody()
    {
        using var h = new EngineHarness();
        var heard = new System.Collections.Concurrent.ConcurrentQueue<(int N, Exception? Error, bool Readable)>();
        void OnCommitted(Exception? error, object? state)
        {
            int n = (int)state!;
            // Called after the commit: the write is already readable, and it is durable when asked.
            heard.Enqueue((n, error, error is null && h.Engine.Get(B($"c{n:D3}")) is not null));
            if (n % 10 == 3)
                throw new InvalidOperationException("a callback that throws");
        }
        for (int n = 0; n < 100; n++)
            h.Engine.Put(B($"c{n:D3}"), B($"v{n}"), durable: n % 2 == 0, OnCommitted, n);
        // Ten of the callbacks throw: the writes after them must still be heard.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (heard.Count < 100 && DateTime.UtcNow < deadline)
            await Task.Delay(5);
        Assert.Equal(100, heard.Count);
        Assert.Equal(Enumerable.Range(0, 100), heard.Select(x => x.N).Order());
        Assert.All(heard, x => Assert.Null(x.Error));
        Assert.All(heard, x => Assert.True(x.Readable, $"write {x.N} was reported before it could be read"));
        // A later write still commits: the throwing callbacks broke nothing.
        await h.Engine.PutAsync(B("after"), B("x"), durable: true);
        // The durable ones survive a power cut.
        h.CrashAndReopen();
        for (int n = 0; n < 100; n += 2)
            Assert.Equal($"v{n}", S(h.Engine.Get(B($"c{n:D3}"))));
        // A write the WAL cannot take reports its error, once.
        h.Fs.FailWrites = true;
        var failed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Engine.Put(B("doomed"), B("v"), durable: true, (error, _) => failed.SetResult(error), null);
        var reported = await failed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        h.Fs.FailWrites = false;
        Assert.IsAssignableFrom<IOException>(reported);
    }

    [Fact]
    public void Tombstones_are_kept_until_their_grace_period_has_passed()
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var h = new EngineHarness(Small with { TombstoneGracePeriod = TimeSpan.FromHours(1), TimeProvider = clock });
        h.Engine.Put(B("k"), B("v"));
        h.Engine.Delete(B("k"));
        h.Engine.CompactRange();
        Assert.Equal(1, CountEntries(h, "k")); // the tombstone is still there
        clock.Advance(TimeSpan.FromHours(2));
        h.Engine.CompactRange();
        Assert.Equal(0, CountEntries(h, "k"));
        Assert.Null(h.Engine.Get(B("k")));
    }

    [Fact]
    public void Compaction_filter_removes_keys_without_resurrecting_older_versions()
    {
        var filter = new DropValues("expired");
        using var h = new EngineHarness(Small with { CompactionFilter = filter });
        h.Engine.Put(B("a"), B("live"));
        h.Engine.Put(B("b"), B("old"));
        h.Engine.CompactRange(); // b=old now sits in a deep level
        h.Engine.Put(B("b"), B("expired"));
        h.Engine.Put(B("c"), B("expired"));
        h.Engine.Flush();
        h.Engine.CompactRange(null, null);
        Assert.Equal("live", S(h.Engine.Get(B("a"))));
        Assert.Null(h.Engine.Get(B("b"))); // not b=old
        Assert.Null(h.Engine.Get(B("c")));
        Assert.True(filter.Calls > 0);
    }

    private static int CountEntries(EngineHarness h, string key)
    {
        // Count raw internal entries for the key across all tables, tombstones included.
        int count = 0;
        foreach (string name in h.Fs.ListFiles(Dir))
        {
            if (!name.EndsWith(".sst", StringComparison.Ordinal))
            {
                continue;
            }
            using var reader = Table.TableReader.Open(h.Fs, $"{Dir}/{name}", new Table.BlockCache(0));
            using var it = reader.NewIterator();
            for (it.SeekToFirst(); it.Valid; it.Next())
            {
                if (InternalKey.UserKey(it.Key).SequenceEqual(B(key)))
                {
                    count++;
                }
            }
        }
        return count;
    }

    private sealed class DropValues(string marker) : ICompactionFilter
    {
        public int Calls;

        public CompactionDecision Filter(int level, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            Interlocked.Increment(ref Calls);
            return value.SequenceEqual(B(marker)) ? CompactionDecision.Remove : CompactionDecision.Keep;
        }
    }
}

internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
