using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Storage;

namespace Kv.Bench.Storage;

/// <summary>
/// db_bench-shaped storage benchmarks: fillseq, fillrandom, readrandom, readseq, with db_bench's key
/// format (zero-padded decimal) and the same flags, so bench/compare-rocksdb.sh can run both with
/// identical parameters. Prints one line per benchmark: ops/s, p50 and p99 latency.
/// </summary>
public static class StorageBench
{
    public static int Run(BenchArgs args)
    {
        string[] benchmarks = args.String("benchmarks", "fillrandom,readrandom,fillseq,readseq").Split(',', StringSplitOptions.RemoveEmptyEntries);
        long num = args.Long("num", 1_000_000);
        int keySize = (int)args.Long("key-size", 16);
        int valueSize = (int)args.Long("value-size", 100);
        bool sync = args.Flag("sync");
        int threads = (int)Math.Max(1, args.Long("threads", 1));
        long writeBuffer = args.Long("write-buffer-size", 16L << 20);
        long cache = args.Long("cache-size", 256L << 20);
        string? dbArg = args.String("db", "");
        bool keep = dbArg.Length > 0;
        string db = keep ? dbArg : Path.Combine(Path.GetTempPath(), $"kv-bench-{Environment.ProcessId}");
        args.RejectUnknown();
        if (keySize < 8)
        {
            throw new ArgumentException("--key-size must be at least 8");
        }
        Console.WriteLine($"Kv.Storage: keys {keySize} B, values {valueSize} B, num {num}, threads {threads}, sync {(sync ? 1 : 0)}, write buffer {writeBuffer >> 20} MiB, block cache {cache >> 20} MiB, cores {Environment.ProcessorCount}");
        var env = new StorageEnvironment(blockCacheBytes: cache);
        var options = new StorageOptions { Environment = env, WriteBufferSize = writeBuffer };
        LsmEngine? engine = null;
        try
        {
            foreach (string name in benchmarks)
            {
                bool fresh = name.StartsWith("fill", StringComparison.Ordinal);
                if (engine is null || fresh)
                {
                    engine?.Dispose();
                    if (fresh && Directory.Exists(db))
                    {
                        Directory.Delete(db, recursive: true);
                    }
                    engine = LsmEngine.Open(db, options);
                }
                Result r = name switch
                {
                    "fillseq" => RunThreads(threads, t => Fill(engine, t, threads, num, keySize, valueSize, sync, sequential: true)),
                    "fillrandom" => RunThreads(threads, t => Fill(engine, t, threads, num, keySize, valueSize, sync, sequential: false)),
                    "readrandom" => RunThreads(threads, t => ReadRandom(engine, t, num, keySize)),
                    "readseq" => RunThreads(1, _ => ReadSeq(engine)),
                    _ => throw new ArgumentException($"unknown benchmark '{name}' (known: fillseq, fillrandom, readrandom, readseq)"),
                };
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-12}: {r.OpsPerSecond,10:F0} ops/s  {r.MicrosPerOp,8:F3} micros/op  p50 {r.P50Micros,8:F2} us  p99 {r.P99Micros,8:F2} us  ({r.Ops} ops{r.Note})"));
            }
            if (engine is not null)
            {
                StorageStatistics s = engine.GetStatistics();
                Console.WriteLine($"levels (files): {string.Join(' ', s.LevelFiles)}  flushes {s.Flushes} ({s.FlushDroppedEntries} hidden versions left out)  compactions {s.Compactions}  stalls {s.Stalls} ({s.StallTime.TotalMilliseconds:F0} ms)  wal syncs {s.WalSyncs}  cache hit {Ratio(s.BlockCacheHits, s.BlockCacheMisses):P0}");
            }
        }
        finally
        {
            engine?.Dispose();
            env.Dispose();
            if (!keep && Directory.Exists(db))
            {
                Directory.Delete(db, recursive: true);
            }
        }
        return 0;
    }

    private static double Ratio(long hits, long misses) => hits + misses == 0 ? 0 : (double)hits / (hits + misses);

    private sealed record Result(long Ops, double OpsPerSecond, double MicrosPerOp, double P50Micros, double P99Micros, string Note);

    private sealed record ThreadResult(long Ops, long[] LatencyTicks, long Found);

    private static Result RunThreads(int threads, Func<int, ThreadResult> body)
    {
        var results = new ThreadResult[threads];
        var start = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                results[id] = body(id);
            });
            workers[t].Start();
        }
        start.SignalAndWait();
        long begin = Stopwatch.GetTimestamp();
        foreach (Thread w in workers)
        {
            w.Join();
        }
        double seconds = Stopwatch.GetElapsedTime(begin).TotalSeconds;
        long ops = 0;
        long found = 0;
        var all = new List<long>();
        foreach (ThreadResult r in results)
        {
            ops += r.Ops;
            found += r.Found;
            all.AddRange(r.LatencyTicks);
        }
        all.Sort();
        double tickMicros = 1e6 / Stopwatch.Frequency;
        double p50 = all.Count == 0 ? 0 : all[(int)(all.Count * 0.50)] * tickMicros;
        double p99 = all.Count == 0 ? 0 : all[Math.Min(all.Count - 1, (int)(all.Count * 0.99))] * tickMicros;
        string note = found >= 0 ? $", {found} found" : string.Empty; // fills report -1: nothing to find
        return new Result(ops, ops / seconds, seconds * 1e6 / Math.Max(1, ops) * threads, p50, p99, note);
    }

    private static void FormatKey(Span<byte> dst, long k)
    {
        // db_bench's key: the number as zero-padded decimal, 16 digits, padded to key size.
        Span<char> digits = stackalloc char[20];
        k.TryFormat(digits, out int n, "D16", CultureInfo.InvariantCulture);
        dst.Fill((byte)'0');
        int len = Math.Min(n, dst.Length);
        Encoding.ASCII.GetBytes(digits[(n - len)..n], dst[..len]);
    }

    private static ThreadResult Fill(LsmEngine engine, int thread, int threads, long num, int keySize, int valueSize, bool sync, bool sequential)
    {
        var rng = new Random(1000 + thread);
        var key = new byte[keySize];
        var value = new byte[valueSize];
        var valueSource = new byte[valueSize * 16 + 1024];
        rng.NextBytes(valueSource);
        long perThread = num;
        var lat = new long[perThread];
        for (long i = 0; i < perThread; i++)
        {
            long k = sequential ? i * threads + thread : rng.NextInt64(num);
            FormatKey(key, k);
            valueSource.AsSpan((int)(i % 1024), valueSize).CopyTo(value);
            long t0 = Stopwatch.GetTimestamp();
            engine.Put(key, value, sync);
            lat[i] = Stopwatch.GetTimestamp() - t0;
        }
        return new ThreadResult(perThread, lat, -1);
    }

    private static ThreadResult ReadRandom(LsmEngine engine, int thread, long num, int keySize)
    {
        var rng = new Random(2000 + thread);
        var key = new byte[keySize];
        var lat = new long[num];
        long found = 0;
        for (long i = 0; i < num; i++)
        {
            FormatKey(key, rng.NextInt64(num));
            long t0 = Stopwatch.GetTimestamp();
            if (engine.Get(key) is not null)
            {
                found++;
            }
            lat[i] = Stopwatch.GetTimestamp() - t0;
        }
        return new ThreadResult(num, lat, found);
    }

    private static ThreadResult ReadSeq(LsmEngine engine)
    {
        var lat = new List<long>();
        long ops = 0;
        long bytes = 0;
        using StorageIterator it = engine.NewIterator();
        long t0 = Stopwatch.GetTimestamp();
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            bytes += it.Key.Length + it.Value.Length;
            ops++;
            long t1 = Stopwatch.GetTimestamp();
            lat.Add(t1 - t0);
            t0 = t1;
        }
        return new ThreadResult(ops, [.. lat], -1);
    }
}
