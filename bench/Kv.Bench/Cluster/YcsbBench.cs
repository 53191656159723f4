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
/// The records go to --namespace (default `ycsb`, which the local cluster declares last-write-wins,
/// allow-mult off, as YCSB's updates are blind writes; `default` is the store's own siblings
/// namespace, allow-mult on with dotted version vectors). Before the load a probe (two blind writes
/// to a key of its own, then a read) finds which of the two the namespace is, and every header and
/// report names it. In a siblings namespace an UPDATE is still YCSB's blind write (no context, so
/// it adds a sibling to an existing record); a READ that returns siblings resolves them as a Riak
/// application would, writing one of them back with the read's context (counted apart as RESOLVE,
/// not in the throughput); a READ-MODIFY-WRITE writes with the context of its read, which covers
/// every sibling it saw.
/// Under --target each caller has a schedule (a random phase, then one operation every
/// threads/target seconds); an operation's latency counts from its place in the schedule, not from
/// when it was sent (no coordinated omission). Failures are counted per operation type and
/// printed; the throughput counts successes only.
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
            Console.WriteLine("# starting a local 3-node cluster (Kv.Node processes, N=3 R=2 W=2 DW=2; namespace ycsb declared last-write-wins)");
            string[] settings =
            [
                "--kv.namespaces.ycsb.allow-mult", "off", "--kv.namespaces.ycsb.last-write-wins", "on",
                "--kv.actor.log-level", "warning",
                .. nodeArgs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .SelectMany(a => a.Split('=', 2) is [var k, var v] ? new[] { "--" + k, v } : throw new ArgumentException($"--node-settings wants key=value,... (not '{a}')")),
            ];
            try
            {
                local = await LocalCluster.StartAsync(3, settings).ConfigureAwait(false);
            }
            catch (Exception e) when (e is KvException or InvalidOperationException)
            {
                Console.Error.WriteLine($"error: the local cluster did not start (see the nodes' lines above): {e.Message}");
                return 2;
            }
            contacts = local.Contacts;
        }
        else
        {
            contacts = nodes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        try
        {
            await using var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = contacts }).ConfigureAwait(false);
            bool siblings;
            try
            {
                siblings = await ProbeSiblingsAsync(client, ns).ConfigureAwait(false);
            }
            catch (UnknownNamespaceException)
            {
                Console.Error.WriteLine($"error: namespace '{ns}' is not declared on the cluster" +
                    (local is not null ? $" (declare it for the local cluster with --node-settings kv.namespaces.{ns}.allow-mult=on or off)" : ""));
                return 2;
            }
            string nsLabel = $"{ns} ({(siblings ? "siblings: allow_mult on, DVV" : "lww: one value per key")})";
            Console.WriteLine($"# namespace: {nsLabel}");
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
                Console.WriteLine($"# load: {records} records of {fieldLength} B, {threads} threads, namespace {nsLabel}");
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
                Report("LOAD", sw.Elapsed, [load], nsLabel, paced: false);
            }

            Console.WriteLine($"# run: workload {workload}, {operations} operations, {threads} threads, namespace {nsLabel}" +
                (target > 0 ? $", target {target} ops/s, latency from intended start" : ", latency from send"));
            var read = new Recorder("READ");
            var update = new Recorder("UPDATE");
            var rmw = new Recorder("READ-MODIFY-WRITE");
            var resolve = new Recorder("RESOLVE");
            long sawSiblings = 0;
            long maxSiblings = 0;
            void Saw(KvObject? obj)
            {
                int n = obj?.Siblings.Count ?? 0;
                if (n <= 1)
                    return;
                Interlocked.Increment(ref sawSiblings);
                long seen;
                while (n > (seen = Interlocked.Read(ref maxSiblings)) && Interlocked.CompareExchange(ref maxSiblings, n, seen) != seen)
                {
                }
            }
            var zipf = new ScrambledZipfian(records);
            long done = -1;
            var cpuBefore = Cpu(local);
            var clock = Stopwatch.StartNew();
            long startTimestamp = Stopwatch.GetTimestamp();
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
                    long intended = 0;
                    if (target > 0)
                    {
                        // Pace each caller to target/threads ops/s (YCSB's -target). The operation's
                        // latency counts from its due time: a caller that is behind sends at once,
                        // and the time it was late is part of the latency (no coordinated omission).
                        double due = phase + mine++ * interval;
                        intended = startTimestamp + (long)(due * Stopwatch.Frequency);
                        var wait = TimeSpan.FromSeconds(due) - clock.Elapsed;
                        if (wait > TimeSpan.Zero)
                            await Task.Delay(wait).ConfigureAwait(false);
                    }
                    string key = YcsbGenerators.KeyName(zipf.Next(r));
                    double p = r.NextDouble();
                    if (p < mix.Read)
                    {
                        var (ok, obj) = await read.Time(() => client.GetAsync(ns, key), intended).ConfigureAwait(false);
                        if (ok && obj!.HasSiblings)
                        {
                            // A Riak application resolves the siblings it reads: write one of them
                            // back with the read's context, which covers them all.
                            Saw(obj);
                            await resolve.Time(() => client.PutAsync(ns, key, obj.Siblings[0].Value, obj.Context)).ConfigureAwait(false);
                        }
                    }
                    else if (p < mix.Read + mix.Update)
                    {
                        await update.Time(() => client.PutAsync(ns, key, Value(r)), intended).ConfigureAwait(false);
                    }
                    else
                    {
                        await rmw.Time(async () =>
                        {
                            var obj = await client.GetAsync(ns, key).ConfigureAwait(false);
                            Saw(obj);
                            // YCSB's F writes new field values over the record read (a record here
                            // is one field), so whichever sibling is "modified" the value written is
                            // new; the read's context covers every sibling, so it replaces them all.
                            return await client.PutAsync(ns, key, Value(r), obj.Context).ConfigureAwait(false);
                        }, intended).ConfigureAwait(false);
                    }
                }
            }))).ConfigureAwait(false);
            var elapsed = clock.Elapsed;
            await stopStatus.CancelAsync().ConfigureAwait(false);
            await statusLoop.ConfigureAwait(false);
            Report("OVERALL", elapsed, [read, update, rmw], nsLabel, target > 0);
            if (siblings)
            {
                Console.WriteLine($"[SIBLINGS], ReadsThatSawSiblings, {sawSiblings}");
                Console.WriteLine($"[SIBLINGS], MaxSiblingsSeen, {maxSiblings}");
                if (resolve.Count + resolve.Failures > 0)
                    resolve.Print();
            }
            if (raw.Length > 0)
                WriteRaw(raw, [read, update, rmw, resolve]);
            ReportCpu(cpuBefore, Cpu(local), operations);
            local?.Quiet();
            return 0;
        }
        finally
        {
            if (local is not null)
                await local.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether the namespace keeps siblings: two blind writes to a probe key of this run, then a
    /// read. A last-write-wins namespace answers one value, a siblings one two. The probe key is
    /// deleted afterwards with the read's context.
    /// </summary>
    private static async Task<bool> ProbeSiblingsAsync(KvClient client, string ns)
    {
        string key = "ycsb-mode-probe-" + Guid.NewGuid().ToString("N");
        await client.PutAsync(ns, key, "1"u8.ToArray()).ConfigureAwait(false);
        await client.PutAsync(ns, key, "2"u8.ToArray()).ConfigureAwait(false);
        var obj = await client.GetAsync(ns, key).ConfigureAwait(false);
        await client.DeleteAsync(ns, key, obj.Context).ConfigureAwait(false);
        return obj.Siblings.Count > 1;
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
                long failed = 0;
                foreach (var r in recorders)
                {
                    var (count, failures, slice) = r.TakeInterval();
                    total += count;
                    failed += failures;
                    if (slice.Length == 0)
                        continue;
                    Array.Sort(slice);
                    long P(double q) => slice[Math.Min(slice.Length - 1, (int)(q * slice.Length))];
                    line.Append(CultureInfo.InvariantCulture, $" [{r.Name}: Count={slice.Length}, p50={P(0.5)}, p99={P(0.99)}, Max={slice[^1]}]");
                }
                double rate = (total - last) / (now - lastTime).TotalSeconds;
                Console.WriteLine($"{now.TotalSeconds:0} sec: {total} operations; {rate.ToString("0.0", CultureInfo.InvariantCulture)} current ops/sec;{(failed > 0 ? $" {failed} failed so far;" : "")}{line}");
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

    /// <summary>
    /// YCSB's summary: the throughput counts the operations that succeeded; failures are reported
    /// beside it and per operation type.
    /// </summary>
    private static void Report(string phase, TimeSpan elapsed, IReadOnlyList<Recorder> recorders, string nsLabel, bool paced)
    {
        long ok = recorders.Sum(r => r.Count);
        long failed = recorders.Sum(r => r.Failures);
        Console.WriteLine($"[{phase}], Namespace, {nsLabel}");
        Console.WriteLine($"[{phase}], Latency, {(paced ? "from intended start (no coordinated omission)" : "from send")}");
        Console.WriteLine($"[{phase}], RunTime(ms), {elapsed.TotalMilliseconds:0}");
        Console.WriteLine($"[{phase}], Throughput(ops/sec), {(ok / elapsed.TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"[{phase}], Operations(ok), {ok}");
        Console.WriteLine($"[{phase}], Failures, {failed}");
        foreach (var r in recorders.Where(r => r.Count + r.Failures > 0))
            r.Print();
    }
}
