using static Kv.Storage.Tests.EngineHarness;

namespace Kv.Storage.Tests;

public class SharedEnvironmentSpec
{
    [Fact]
    public void Sixty_four_instances_in_one_process_stay_within_the_memtable_budget_and_cache_size()
    {
        var fs = new Kv.Storage.IO.FaultInjectionFileSystem();
        const long Budget = 4L << 20;
        const long Cache = 2L << 20;
        using var env = new StorageEnvironment(blockCacheBytes: Cache, memtableBudgetBytes: Budget, flushThreads: 1, compactionThreads: 1);
        var options = new StorageOptions
        {
            FileSystem = fs,
            Environment = env,
            WriteBufferSize = 1L << 20, // 64 x 1 MiB would be 16x the budget: the budget must bind
            TargetFileSize = 256 << 10,
            L1MaxBytes = 1 << 20,
        };
        var engines = Enumerable.Range(0, 64).Select(i => LsmEngine.Open($"/node/vnode{i:D2}", options)).ToList();
        try
        {
            var value = new byte[1000];
            Parallel.For(0, 4, t =>
            {
                var rng = new Random(t);
                for (int i = 0; i < 6000; i++)
                {
                    engines[rng.Next(64)].Put(B($"t{t}-{i:D6}"), value);
                }
            });
            // Slack: one in-flight batch per writer thread past the check, plus skiplist overhead.
            Assert.InRange(env.PeakMemtableUsage, 0, Budget + 4 * 2000);
            for (int i = 0; i < 64; i++)
            {
                engines[i].Get(B("t0-000001"));
                using StorageIterator it = engines[i].NewIterator();
                for (it.SeekToFirst(); it.Valid; it.Next())
                {
                }
            }
            Assert.InRange(env.BlockCache.Usage, 0, Cache);
            Assert.True(engines.Sum(e => e.GetStatistics().Flushes) > 10);
            Assert.Equal(24000, engines.Sum(e => e.ScanPrefix(B("t")).Count()));
        }
        finally
        {
            foreach (LsmEngine e in engines)
            {
                e.Dispose();
            }
        }
        Assert.Equal(0, env.EngineCount);
        Assert.Equal(0, env.MemtableUsage);
    }
}
