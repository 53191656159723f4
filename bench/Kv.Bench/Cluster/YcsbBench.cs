using System.Diagnostics;
using System.Globalization;
using Kv.Client;

namespace Kv.Bench.Cluster;

/// <summary>
/// `Kv.Bench cluster ycsb`: YCSB's core workloads against a Kv cluster through Kv.Client. Loads
/// --records 1 KB records (YCSB's hashed key names), then runs --operations operations from
/// --threads concurrent callers with scrambled-zipfian (0.99) key choice, optionally paced to
/// --target ops/s, and prints YCSB's report lines. Without --nodes it starts a local 3-node cluster
/// (separate Kv.Node processes, default settings: N=3, R=2, W=2, DW=2; --node-settings
/// kv.x=v,kv.y=w overrides some) and removes it afterwards.
/// Writes go to the namespace `ycsb`, declared last-write-wins (allow-mult off) as YCSB's updates
/// are blind writes.
/// </summary>
public static class YcsbBench
{
    private static readonly Dictionary<string, (double Read, double Update, double Rmw)> Workloads = new()
    {
        ["a"] = (0.5, 0.5, 0),
        ["b"] = (0.95, 0.05, 0),
        ["c"] = (1.0, 0, 0),
        ["f"] = (0.5, 0, 0.5),
    };

    public static int Run(BenchArgs args)
    {
        string workload = args.String("workload", "a").ToLowerInvariant();
        long records = args.Long("records", 100_000);
        long operations = args.Long("operations", 1_000_000);
        int threads = (int)args.Long("threads", 64);
        double target = args.Long("target", 0);
        int fieldLength = (int)args.Long("value-size", 1000);
        string nodes = args.String("nodes", "");
        string ns = args.String("namespace", "ycsb");
        bool skipLoad = args.Flag("skip-load");
        string nodeArgs = args.String("node-settings", "");
        int status = (int)args.Long("status", 0);
        string raw = args.String("raw", "");
        args.RejectUnknown();
        if (!Workloads.TryGetValue(workload, out var mix))
            throw new ArgumentException($"--workload must be one of a, b, c, f (not '{workload}')");
        if (records < 1 || operations < 0 || threads < 1)
            throw new ArgumentException("--records and --threads must be >= 1");
        return RunAsync(workload, mix, records, operations, threads, target, fieldLength, nodes, ns, skipLoad, nodeArgs, status, raw).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string workload, (double Read, double Update, double Rmw) mix, long records, long operations, int threads,
        double target, int fieldLength, string nodes, string ns, bool skipLoad, string nodeArgs, int status, string raw)
    {
        LocalCluster? local = null;
        IReadOnlyList<string> contacts;
        if (nodes.Length == 0)
        {
            Console.WriteLine("# starting a local 3-node cluster (Kv.Node processes, N=3 R=2 W=2 DW=2)");
            local = await LocalCluster.StartAsync(3,
            [
                "--kv.namespaces.ycsb.allow-mult", "off", "--kv.namespaces.ycsb.last-write-wins", "on",
                "--kv.actor.log-level", "warning",
                .. nodeArgs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .SelectMany(a => a.Split('=', 2) is [var k, var v] ? new[] { "--" + k, v } : throw new ArgumentException($"--node-settings wants key=value,... (not '{a}')")),
            ]).ConfigureAwait(false);
            contacts = local.Contacts;
        }
        else
        {
            contacts = nodes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        try
        {
            await using var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = contacts }).ConfigureAwait(false);
            var values = new byte[1 << 20];
            Random.Shared.NextBytes(values);
            byte[] Value(Random r)
            {
                var v = new byte[fieldLength];
                Buffer.BlockCopy(values, r.Next(values.Length - fieldLength), v, 0, fieldLength);
                return v;
            }

            if (!skipLoad)
            {
                Console.WriteLine($"# load: {records} records of {fieldLength} B, {threads} threads");
                var load = new Recorder("INSERT");
                long next = -1;
                var sw = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
                {
                    var r = new Random(t);
                    long i;
                    while ((i = Interlocked.Increment(ref next)) < records)
                        await load.Time(() => client.PutAsync(ns, YcsbGenerators.KeyName(i), Value(r))).ConfigureAwait(false);
                }))).ConfigureAwait(false);
                Report("LOAD", sw.Elapsed, [load]);
            }

            Console.WriteLine($"# run: workload {workload}, {operations} operations, {threads} threads" + (target > 0 ? $", target {target} ops/s" : ""));
            var read = new Recorder("READ");
            var update = new Recorder("UPDATE");
            var rmw = new Recorder("READ-MODIFY-WRITE");
            var zipf = new ScrambledZipfian(records);
            long done = -1;
            var cpuBefore = Cpu(local);
            var clock = Stopwatch.StartNew();
            using var stopStatus = new CancellationTokenSource();
            var statusLoop = status > 0 ? PrintStatusAsync(TimeSpan.FromSeconds(status), clock, [read, update, rmw], stopStatus.Token) : Task.CompletedTask;
            await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
            {
                var r = new Random(1000 + t);
                long mine = 0;
                // Like YCSB's client threads: each caller starts at a random point of its own
                // interval, so that paced callers do not all fire at the same instants.
                double interval = target > 0 ? threads / target : 0;
                double phase = r.NextDouble() * interval;
                long op;
                while ((op = Interlocked.Increment(ref done)) < operations)
                {
                    if (target > 0)
                    {
                        // Pace each caller to target/threads ops/s (YCSB's -target).
                        var due = TimeSpan.FromSeconds(phase + mine++ * interval);
                        var wait = due - clock.Elapsed;
                        if (wait > TimeSpan.Zero)
                            await Task.Delay(wait).ConfigureAwait(false);
                    }
                    string key = YcsbGenerators.KeyName(zipf.Next(r));
                    double p = r.NextDouble();
                    if (p < mix.Read)
                    {
                        await read.Time(() => client.GetAsync(ns, key)).ConfigureAwait(false);
                    }
                    else if (p < mix.Read + mix.Update)
                    {
                        await update.Time(() => client.PutAsync(ns, key, Value(r))).ConfigureAwait(false);
                    }
                    else
                    {
                        await rmw.Time(async () =>
                        {
                            var obj = await client.GetAsync(ns, key).ConfigureAwait(false);
                            return await client.PutAsync(ns, key, Value(r), obj.Context).ConfigureAwait(false);
                        }).ConfigureAwait(false);
                    }
                }
            }))).ConfigureAwait(false);
            var elapsed = clock.Elapsed;
            await stopStatus.CancelAsync().ConfigureAwait(false);
            await statusLoop.ConfigureAwait(false);
            Report("OVERALL", elapsed, [read, update, rmw]);
            if (raw.Length > 0)
                WriteRaw(raw, [read, update, rmw]);
            ReportCpu(cpuBefore, Cpu(local), operations);
            return 0;
        }
        finally
        {
            if (local is not null)
                await local.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// YCSB's -s status lines: every interval, the operations done, the rate over the interval, and
    /// per operation the median, p99 and maximum latency of the operations that ended in it (where
    /// in a run the tail latencies happen).
    /// </summary>
    private static async Task PrintStatusAsync(TimeSpan interval, Stopwatch clock, IReadOnlyList<Recorder> recorders, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval);
        long last = 0;
        var lastTime = TimeSpan.Zero;
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var now = clock.Elapsed;
                var line = new System.Text.StringBuilder();
                long total = 0;
                foreach (var r in recorders)
                {
                    var (count, slice) = r.TakeInterval();
                    total += count;
                    if (slice.Length == 0)
                        continue;
                    Array.Sort(slice);
                    long P(double q) => slice[Math.Min(slice.Length - 1, (int)(q * slice.Length))];
                    line.Append(CultureInfo.InvariantCulture, $" [{r.Name}: Count={slice.Length}, p50={P(0.5)}, p99={P(0.99)}, Max={slice[^1]}]");
                }
                double rate = (total - last) / (now - lastTime).TotalSeconds;
                Console.WriteLine($"{now.TotalSeconds:0} sec: {total} operations; {rate.ToString("0.0", CultureInfo.InvariantCulture)} current ops/sec;{line}");
                last = total;
                lastTime = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// YCSB's raw measurements: one line per operation, `OPERATION,END,LATENCY`, END the time it
    /// ended on the machine's monotonic clock in microseconds (CLOCK_MONOTONIC on Linux, the clock
    /// `perf record -k CLOCK_MONOTONIC` stamps events with) and LATENCY in microseconds.
    /// </summary>
    private static void WriteRaw(string path, IReadOnlyList<Recorder> recorders)
    {
        using var w = new StreamWriter(path);
        foreach (var r in recorders)
            r.WriteRaw(w);
        Console.WriteLine($"# raw latencies: {path}");
    }

    private static List<(string Name, TimeSpan Time)> Cpu(LocalCluster? local)
    {
        var list = new List<(string, TimeSpan)> { ("client", Process.GetCurrentProcess().TotalProcessorTime) };
        if (local is not null)
            list.AddRange(local.NodeCpu().Select((t, i) => ("node" + i.ToString(CultureInfo.InvariantCulture), t)));
        return list;
    }

    /// <summary>CPU seconds per process over the run and CPU microseconds per operation (where the time goes).</summary>
    private static void ReportCpu(List<(string Name, TimeSpan Time)> before, List<(string Name, TimeSpan Time)> after, long operations)
    {
        double total = 0;
        for (int i = 0; i < before.Count && i < after.Count; i++)
        {
            double s = (after[i].Time - before[i].Time).TotalSeconds;
            total += s;
            Console.WriteLine($"[CPU], {after[i].Name}(s), {s.ToString("0.0", CultureInfo.InvariantCulture)}");
        }
        if (operations > 0)
            Console.WriteLine($"[CPU], PerOperation(us), {(total * 1e6 / operations).ToString("0", CultureInfo.InvariantCulture)}");
    }

    private static void Report(string phase, TimeSpan elapsed, IReadOnlyList<Recorder> recorders)
    {
        long ops = recorders.Sum(r => r.Count + r.Failures);
        Console.WriteLine($"[{phase}], RunTime(ms), {elapsed.TotalMilliseconds:0}");
        Console.WriteLine($"[{phase}], Throughput(ops/sec), {(ops / elapsed.TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture)}");
        foreach (var r in recorders.Where(r => r.Count + r.Failures > 0))
            r.Print();
    }
}
