using System.Text;
using Kv.Storage.Memtable;

namespace Kv.Storage.Tests;

/// <summary>The memtable's point lookups (hash index plus version chains) and iterators against a model, at every sequence.</summary>
public class MemTableSpec
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static (LookupResult Result, string? Value) Lookup(MemTable mem, string key, ulong sequence)
    {
        LookupResult r = mem.Get(InternalKey.ForSeek(B(key), sequence), out ReadOnlyMemory<byte> value);
        return (r, r == LookupResult.Found ? Encoding.UTF8.GetString(value.Span) : null);
    }

    [Fact]
    public void The_arena_hands_out_disjoint_aligned_ranges_in_growing_chunks_and_large_entries_apart_each_resolvable_by_reference()
    {
        var arena = new Arena();
        var taken = new List<(byte[] Chunk, int Offset, int Length)>();
        var rng = new Random(3);
        foreach (int length in Enumerable.Range(0, 3000).Select(_ => rng.Next(0, 2000)).Concat([Arena.LargeEntry, Arena.LargeEntry + 1, 70_000, 0, 5]))
        {
            byte[] chunk = arena.Allocate(length, out int offset, out long reference);
            Assert.InRange(offset + length, 0, chunk.Length);
            Assert.Equal(0, offset % 8); // links stored there are read and written whole
            Assert.Same(chunk, arena.Chunk(reference));
            Assert.Equal(offset, Arena.Offset(reference));
            taken.Add((chunk, offset, length));
        }
        foreach (var group in taken.GroupBy(t => t.Chunk))
        {
            int end = 0;
            foreach (var t in group.OrderBy(t => t.Offset))
            {
                Assert.True(t.Offset >= end, "ranges of one chunk do not overlap");
                end = t.Offset + t.Length;
            }
        }
        var chunks = taken.Select(t => t.Chunk).Distinct().ToList();
        // The random phase (entries under 2000 bytes, ~3 MB) fills chunks of 32 KiB, 64 KiB, ... up to 1 MiB.
        for (int i = 0; i < 6; i++)
            Assert.Equal(Math.Min(Arena.FirstChunk << i, Arena.MaxChunk), chunks[i].Length);
        Assert.Single(taken, t => t.Length == Arena.LargeEntry + 1 && t.Chunk.Length == Arena.LargeEntry + 1 && t.Offset == 0);
        Assert.Equal(chunks.Sum(c => (long)c.Length), arena.Reserved);
    }

    [Fact]
    public void Lookups_at_every_sequence_match_a_model_of_versions()
    {
        var mem = new MemTable(1, 42);
        var rng = new Random(7);
        // key -> versions (sequence, value or null for a deletion), oldest first
        var model = new Dictionary<string, List<(ulong Seq, string? Value)>>();
        ulong seq = 0;
        for (int i = 0; i < 3000; i++)
        {
            string key = "k" + rng.Next(200);
            seq++;
            if (rng.Next(5) == 0)
            {
                mem.Add(seq, EntryType.Deletion, B(key), new byte[8]);
                (model.TryGetValue(key, out var l) ? l : model[key] = []).Add((seq, null));
            }
            else
            {
                string value = $"v{seq}";
                mem.Add(seq, EntryType.Value, B(key), B(value));
                (model.TryGetValue(key, out var l) ? l : model[key] = []).Add((seq, value));
            }
        }
        for (int k = 0; k < 210; k++)
        {
            string key = "k" + k;
            foreach (ulong at in new ulong[] { 0, 1, 17, 500, 1499, 1500, 2999, 3000, 3001, ulong.MaxValue >> 8 })
            {
                var expected = (LookupResult.NotFound, (string?)null);
                if (model.TryGetValue(key, out var versions))
                {
                    var visible = versions.LastOrDefault(v => v.Seq <= at);
                    if (visible.Seq != 0)
                        expected = visible.Value is null ? (LookupResult.Deleted, null) : (LookupResult.Found, visible.Value);
                }
                Assert.Equal(expected, Lookup(mem, key, at));
            }
        }
    }

    [Fact]
    public void Iteration_and_seeks_follow_internal_key_order_over_every_version()
    {
        var mem = new MemTable(1, 11);
        var rng = new Random(5);
        var entries = new List<byte[]>(); // internal keys written
        ulong seq = 0;
        for (int i = 0; i < 4000; i++)
        {
            string key = "k" + rng.Next(300);
            EntryType type = rng.Next(6) == 0 ? EntryType.Deletion : EntryType.Value;
            mem.Add(++seq, type, B(key), B($"v{seq}"));
            entries.Add(InternalKey.Make(B(key), seq, type));
        }
        entries.Sort((a, b) => InternalKey.Compare(a, b));

        using var it = mem.NewIterator();
        var seen = new List<byte[]>();
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            seen.Add(it.Key.ToArray());
            Assert.Equal($"v{InternalKey.SequenceOf(it.Key)}", Encoding.UTF8.GetString(it.Value));
        }
        Assert.Equal(entries.Count, seen.Count);
        for (int i = 0; i < entries.Count; i++)
            Assert.True(entries[i].AsSpan().SequenceEqual(seen[i]), $"entry {i} out of order");

        // Seek lands on the first entry >= the target: keys present, absent and past the end, at
        // sequences above, between and below a key's versions.
        for (int i = 0; i < 2000; i++)
        {
            string key = rng.Next(4) == 0 ? "k" + rng.Next(300) + "x" : "k" + rng.Next(310);
            byte[] target = InternalKey.ForSeek(B(key), (ulong)rng.Next(0, 4100));
            int expected = entries.FindIndex(e => InternalKey.Compare(e, target) >= 0);
            it.Seek(target);
            if (expected < 0)
            {
                Assert.False(it.Valid);
                continue;
            }
            Assert.True(it.Valid);
            Assert.True(entries[expected].AsSpan().SequenceEqual(it.Key), $"seek to {key}@{InternalKey.SequenceOf(target)}");
            it.Next();
            if (expected + 1 < entries.Count)
                Assert.True(entries[expected + 1].AsSpan().SequenceEqual(it.Key), "the entry after a seek");
            else
                Assert.False(it.Valid);
        }
    }

    [Fact]
    public async Task A_reader_never_sees_a_version_newer_than_its_sequence_nor_misses_a_published_one()
    {
        var mem = new MemTable(1, 3);
        long published = 0;
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(() =>
        {
            int checks = 0;
            while (!stop.IsCancellationRequested || checks == 0)
            {
                ulong at = (ulong)Volatile.Read(ref published);
                if (at == 0)
                    continue;
                // key "k{s % 50}" was written at every sequence s with value "v{s}"
                ulong s = at - (ulong)Random.Shared.Next(0, (int)Math.Min(at, 120));
                string key = "k" + (s % 50);
                var (r, v) = Lookup(mem, key, at);
                Assert.Equal(LookupResult.Found, r);
                ulong got = ulong.Parse(v!.AsSpan(1));
                Assert.True(got <= at, $"saw sequence {got} above the read sequence {at}");
                Assert.True(at - got < 50, $"missed a version: read {got} at sequence {at} for {key}");
                Assert.Equal(s % 50, got % 50);
                checks++;
            }
            return checks;
        });
        for (ulong s = 1; s <= 40000; s++)
        {
            mem.Add(s, EntryType.Value, B("k" + (s % 50)), B("v" + s));
            Volatile.Write(ref published, (long)s);
        }
        stop.Cancel();
        Assert.True(await reader > 0);
    }

    [Fact]
    public async Task Readers_walking_and_probing_while_new_keys_arrive_see_complete_entries_in_order()
    {
        // New keys all the time: nodes linked at every height, chunks and the chunk list growing
        // (values up to 3 KB, ~60 MB in all), while readers seek, walk and probe without locks.
        var mem = new MemTable(1, 9);
        long published = 0;
        using var stop = new CancellationTokenSource();
        static string Key(long i) => $"k{(i * 7919) % 1_000_003:D7}"; // distinct for i < 1,000,003, arriving out of order
        static string Value(long i) => new string((char)('a' + (i % 26)), (int)(i % 3000)) + i;
        Task<int> Reader(int seed) => Task.Run(() =>
        {
            var rng = new Random(seed);
            int checks = 0;
            while (!stop.IsCancellationRequested || checks == 0)
            {
                long upTo = Volatile.Read(ref published);
                if (upTo == 0)
                    continue;
                long i = rng.NextInt64(1, upTo + 1);
                var (r, v) = Lookup(mem, Key(i), (ulong)upTo);
                Assert.Equal(LookupResult.Found, r);
                Assert.Equal(Value(i), v);
                // A walk from a seek: keys strictly ascending, every entry whole.
                using var it = mem.NewIterator();
                it.Seek(InternalKey.ForSeek(B(Key(i)), ulong.MaxValue >> 8));
                byte[]? last = null;
                for (int n = 0; n < 20 && it.Valid; n++, it.Next())
                {
                    byte[] user = InternalKey.UserKey(it.Key).ToArray();
                    if (last is not null)
                        Assert.True(last.AsSpan().SequenceCompareTo(user) < 0, "keys ascend");
                    long seq = (long)InternalKey.SequenceOf(it.Key);
                    Assert.Equal(Key(seq), Encoding.UTF8.GetString(user));
                    Assert.Equal(Value(seq), Encoding.UTF8.GetString(it.Value));
                    last = user;
                }
                checks++;
            }
            return checks;
        });
        var readers = new[] { Reader(1), Reader(2) };
        for (long i = 1; i <= 40_000; i++)
        {
            mem.Add((ulong)i, EntryType.Value, B(Key(i)), B(Value(i)));
            Volatile.Write(ref published, i);
        }
        stop.Cancel();
        foreach (var r in readers)
            Assert.True(await r > 0);
        using var all = mem.NewIterator();
        int count = 0;
        for (all.SeekToFirst(); all.Valid; all.Next())
            count++;
        Assert.Equal(40_000, count);
    }
}
