using System.Text;
using static Kv.Storage.Tests.EngineHarness;

namespace Kv.Storage.Tests;

/// <summary>
/// LevelDB's DBTest.Randomized, here: thousands of random puts, deletes and batches checked against
/// a SortedDictionary model, with snapshots checked against copies of the model, iterators compared
/// in full, and reopen, crash, flush and compaction at random points, across several option sets.
/// </summary>
public class RandomizedModelSpec
{
    public static TheoryData<string> OptionSets => ["small", "tiny-blocks", "no-bloom", "grace-and-snapshots"];

    private static StorageOptions Make(string name) => name switch
    {
        "small" => EngineHarness.Small,
        "tiny-blocks" => EngineHarness.Small with { BlockSize = 256, WriteBufferSize = 64 << 10, L0CompactionTrigger = 2 },
        "no-bloom" => EngineHarness.Small with { BloomBitsPerKey = 0, RandomizeWriteBuffer = false },
        "grace-and-snapshots" => EngineHarness.Small with { TombstoneGracePeriod = TimeSpan.FromMilliseconds(1), L0CompactionTrigger = 3 },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(OptionSets))]
    public void Ten_thousand_random_steps_match_a_sorted_dictionary(string optionSet)
    {
        int seed = optionSet.GetHashCode(StringComparison.Ordinal) & 0x7fff;
        var rng = new Random(seed);
        using var h = new EngineHarness(Make(optionSet));
        var model = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var snapshots = new List<(Snapshot Snap, SortedDictionary<string, string> Model)>();
        const int Steps = 12_000;
        for (int step = 0; step < Steps; step++)
        {
            int p = rng.Next(100);
            if (p < 45)
            {
                string k = RandomKey(rng);
                string v = RandomValue(rng, step);
                h.Engine.Put(B(k), B(v), durable: rng.Next(10) == 0);
                model[k] = v;
            }
            else if (p < 90)
            {
                string k = RandomKey(rng);
                h.Engine.Delete(B(k));
                model.Remove(k);
            }
            else if (p < 96)
            {
                var batch = new WriteBatch();
                int n = rng.Next(1, 10);
                for (int i = 0; i < n; i++)
                {
                    string k = RandomKey(rng);
                    if (rng.Next(2) == 0)
                    {
                        string v = RandomValue(rng, step);
                        batch.Put(B(k), B(v));
                        model[k] = v;
                    }
                    else
                    {
                        batch.Delete(B(k));
                        model.Remove(k);
                    }
                }
                h.Engine.Write(batch, durable: true);
            }
            else if (p < 97 && snapshots.Count < 4)
            {
                snapshots.Add((h.Engine.GetSnapshot(), new SortedDictionary<string, string>(model, StringComparer.Ordinal)));
            }
            else if (p < 98 && snapshots.Count > 0)
            {
                int i = rng.Next(snapshots.Count);
                CheckAll(h.Engine, snapshots[i].Model, snapshots[i].Snap, rng);
                snapshots[i].Snap.Dispose();
                snapshots.RemoveAt(i);
            }
            else if (p < 99)
            {
                switch (rng.Next(4))
                {
                    case 0:
                        h.Engine.Flush();
                        break;
                    case 1:
                        h.Engine.CompactRange();
                        break;
                    case 2:
                        ReleaseAll(snapshots);
                        h.Reopen();
                        break;
                    default:
                        // Every write so far was either durable or followed by nothing that syncs it;
                        // after a crash the state must be a prefix: check against the durable model.
                        ReleaseAll(snapshots);
                        h.Engine.Flush(); // makes everything durable, so the crash must lose nothing
                        h.CrashAndReopen();
                        break;
                }
            }
            if (step % 200 == 0)
            {
                CheckAll(h.Engine, model, null, rng);
            }
            else
            {
                string k = RandomKey(rng);
                Assert.Equal(model.TryGetValue(k, out string? expected) ? expected : "<null>", S(h.Engine.Get(B(k))));
            }
        }
        foreach (var (snap, m) in snapshots)
        {
            CheckAll(h.Engine, m, snap, rng);
        }
        ReleaseAll(snapshots);
        h.Reopen();
        CheckAll(h.Engine, model, null, rng);
    }

    private static void ReleaseAll(List<(Snapshot Snap, SortedDictionary<string, string> Model)> snapshots)
    {
        foreach (var (snap, _) in snapshots)
        {
            snap.Dispose();
        }
        snapshots.Clear();
    }

    private static string RandomKey(Random rng) =>
        // Skewed: mostly a small hot set, sometimes long keys sharing prefixes.
        rng.Next(10) switch
        {
            < 7 => $"k{rng.Next(500):D4}",
            < 9 => $"k{rng.Next(500):D4}/{new string('p', rng.Next(1, 40))}",
            _ => $"z{rng.Next(100000)}",
        };

    private static string RandomValue(Random rng, int step) =>
        $"v{step}-" + new string((char)('a' + rng.Next(26)), rng.Next(0, rng.Next(10) == 0 ? 3000 : 60));

    private static void CheckAll(LsmEngine engine, SortedDictionary<string, string> model, Snapshot? snap, Random rng)
    {
        using StorageIterator it = engine.NewIterator(new ReadOptions { Snapshot = snap });
        it.SeekToFirst();
        foreach (KeyValuePair<string, string> kv in model)
        {
            Assert.True(it.Valid, $"iterator ended before {kv.Key}");
            Assert.Equal(kv.Key, Encoding.UTF8.GetString(it.Key));
            Assert.Equal(kv.Value, Encoding.UTF8.GetString(it.Value));
            it.Next();
        }
        Assert.False(it.Valid);
        for (int i = 0; i < 50; i++)
        {
            string k = RandomKey(rng);
            Assert.Equal(model.TryGetValue(k, out string? v) ? v : "<null>", S(engine.Get(B(k), snap)));
            it.Seek(B(k));
            string? expectedNext = model.Keys.FirstOrDefault(x => string.CompareOrdinal(x, k) >= 0);
            Assert.Equal(expectedNext ?? "<end>", it.Valid ? Encoding.UTF8.GetString(it.Key) : "<end>");
        }
    }
}
