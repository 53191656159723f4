using System.Diagnostics;
using System.Globalization;
using Kv.Client;

namespace Kv.Bench.Cluster;

/// <summary>
/// `Kv.Bench cluster batch-get`: keys per second of multi-gets against single gets, same callers.
/// Starts a local 3-node cluster (Kv.Node processes, default settings: N=3 R=2, namespace default)
/// unless --nodes is given, loads --records keys with PutManyAsync, then alternates rounds of
/// (a) each of --callers callers doing --batch single GetAsync calls one after the other (like a
/// YCSB thread), again and again, and (b) each caller doing GetManyAsync of --batch keys, again and
/// again; keys are drawn uniformly from the loaded ones. Per round: keys/s, failures (exceptions
/// and keys answered with an error or not found), CPU per key of the client and the nodes. At the
/// end the medians and their ratio.
/// </summary>
public static class BatchGetBench
{
    public static int Run(BenchArgs args)
    {
        int callers = (int)args.Long("callers", 8);
        int batch = (int)args.Long("batch", 100);
        int records = (int)args.Long("records", 10_000);
        int rounds = (int)args.Long("rounds", 5);
        double seconds = args.Long("seconds", 5);
        int valueSize = (int)args.Long("value-size", 100);
        string nodes = args.String("nodes", "");
        args.RejectUnknown();
        if (callers < 1 || batch < 1 || batch > Kv.Actors.Coordinators.BatchLimits.MaxKeys || records < batch || rounds < 1 || seconds < 1)
            throw new ArgumentException($"--callers, --rounds, --seconds >= 1; --batch 1..{Kv.Actors.Coordinators.BatchLimits.MaxKeys}; --records >= --batch");
        return RunAsync(callers, batch, records, rounds, TimeSpan.FromSeconds(seconds), valueSize, nodes).GetAwaiter().GetResult();
    }

    private sealed record Round(string Mode, double KeysPerSecond, long Keys, long Failures, double CpuUsPerKey, double ClientUsPerKey);

    private static async Task<int> RunAsync(int callers, int batch, int records, int rounds, TimeSpan duration, int valueSize, string nodes)
    {
        LocalCluster? local = null;
        IReadOnlyList<string> contacts;
        if (nodes.Length == 0)
        {
            Console.WriteLine("# starting a local 3-node cluster (Kv.Node processes, N=3 R=2 W=2 DW=2, namespace default)");
            try
            {
                local = await LocalCluster.StartAsync(3, ["--kv.actor.log-level", "warning"]).ConfigureAwait(false);
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
            const string ns = "default";
            string Key(int i) => "batch-bench-" + i.ToString("D7", CultureInfo.InvariantCulture);

            // Load with batches of 500 (PutManyAsync), every outcome checked.
            var sw = Stopwatch.StartNew();
            var value = new byte[valueSize];
            Random.Shared.NextBytes(value);
            long loadFailures = 0;
            for (int start = 0; start < records; start += 500)
            {
                var items = Enumerable.Range(start, Math.Min(500, records - start)).Select(i => new KvPutItem(Key(i), value)).ToList();
                loadFailures += (await client.PutManyAsync(ns, items).ConfigureAwait(false)).Count(o => !o.Ok);
            }
            Console.WriteLine($"# loaded {records} keys of {valueSize} B with PutManyAsync (batches of 500) in {sw.Elapsed.TotalSeconds:0.0} s, {loadFailures} failed");
            Console.WriteLine($"# {callers} callers; (a) {batch} single GetAsync one after the other per caller, (b) GetManyAsync of {batch} keys per caller; {duration.TotalSeconds:0} s per round");

            // Warm-up: both modes once, not counted.
            await RoundAsync(client, "warm-up single", single: true, callers, batch, records, TimeSpan.FromSeconds(3), Key, local).ConfigureAwait(false);
            await RoundAsync(client, "warm-up batch", single: false, callers, batch, records, TimeSpan.FromSeconds(3), Key, local).ConfigureAwait(false);

            var results = new List<Round>();
            for (int r = 0; r < rounds; r++)
            {
                foreach (bool single in r % 2 == 0 ? new[] { true, false } : [false, true])
                {
                    var round = await RoundAsync(client, single ? "single" : "batch", single, callers, batch, records, duration, Key, local).ConfigureAwait(false);
                    results.Add(round);
                    Console.WriteLine($"round {r + 1} {round.Mode,-6}: {round.KeysPerSecond,10:0} keys/s  ({round.Keys} keys, {round.Failures} failed, {round.CpuUsPerKey:0.0} us CPU per key, all processes; client {round.ClientUsPerKey:0.0})");
                }
            }
            double Median(string mode) => Med(results.Where(x => x.Mode == mode).Select(x => x.KeysPerSecond));
            double MedCpu(string mode) => Med(results.Where(x => x.Mode == mode).Select(x => x.CpuUsPerKey));
            double s = Median("single"), b = Median("batch");
            long failures = results.Sum(x => x.Failures);
            Console.WriteLine($"median single: {s:0} keys/s ({MedCpu("single"):0.0} us CPU/key); median batch: {b:0} keys/s ({MedCpu("batch"):0.0} us CPU/key); batch/single = {b / s:0.00}x; failures: {failures}");
            return failures == 0 && loadFailures == 0 ? 0 : 1;
        }
        finally
        {
            if (local is not null)
                await local.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static double Med(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        return v.Count == 0 ? 0 : v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    private static TimeSpan Cpu(LocalCluster? local) =>
        Process.GetCurrentProcess().TotalProcessorTime + (local is null ? TimeSpan.Zero : local.NodeCpu().Aggregate(TimeSpan.Zero, (a, t) => a + t));

    private static async Task<Round> RoundAsync(KvClient client, string mode, bool single, int callers, int batch, int records, TimeSpan duration,
        Func<int, string> key, LocalCluster? local)
    {
        long keys = 0, failures = 0;
        var cpu0 = Cpu(local);
        var client0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var end = Environment.TickCount64 + (long)duration.TotalMilliseconds;
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            var random = new Random(c * 7919 + Environment.TickCount);
            var names = new string[batch];
            var drawn = new HashSet<int>();
            while (Environment.TickCount64 < end)
            {
                // Distinct keys (a batch reads a repeated key once: that would flatter it).
                drawn.Clear();
                while (drawn.Count < batch)
                    drawn.Add(random.Next(records));
                int n = 0;
                foreach (int i in drawn)
                    names[n++] = key(i);
                if (single)
                {
                    foreach (string name in names)
                    {
                        try
                        {
                            var o = await client.GetAsync("default", name).ConfigureAwait(false);
                            Interlocked.Increment(ref keys);
                            if (!o.Found)
                                Interlocked.Increment(ref failures);
                        }
                        catch (KvException)
                        {
                            Interlocked.Increment(ref failures);
                        }
                    }
                }
                else
                {
                    try
                    {
                        var outcomes = await client.GetManyAsync("default", names).ConfigureAwait(false);
                        Interlocked.Add(ref keys, outcomes.Count);
                        Interlocked.Add(ref failures, outcomes.Count(o => !o.Ok || !o.Result!.Found));
                    }
                    catch (KvException)
                    {
                        Interlocked.Add(ref failures, batch);
                    }
                }
            }
        }))).ConfigureAwait(false);
        double elapsed = sw.Elapsed.TotalSeconds;
        var cpu = Cpu(local) - cpu0;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - client0;
        return new Round(mode, keys / elapsed, keys, failures, keys == 0 ? 0 : cpu.TotalMicroseconds / keys, keys == 0 ? 0 : clientCpu.TotalMicroseconds / keys);
    }
}
