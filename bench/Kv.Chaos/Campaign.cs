using System.Diagnostics;
using Kv.Chaos.Nemeses;
using Kv.Chaos.Workloads;
using Kv.Client;

namespace Kv.Chaos;

/// <summary>
/// One fault campaign: start the nodes (fresh data), wait for the ring, run the workload from
/// several clients while the nemesis injures the cluster, heal everything, wait for the cluster
/// to settle and past the tombstone grace, read every key back at R=2 and check the history.
/// Every node is killed at the end, whatever happens.
/// </summary>
public static class Campaign
{
    public static IWorkload CreateWorkload(string name, Kv.Actors.Coordinators.RequestOptions? write = null) => name switch
    {
        "cas-register" => new CasRegisterWorkload(),
        "consistent-counter" => new ConsistentCounterWorkload(),
        "register" => new RegisterWorkload(write),
        "set" => new SetWorkload(write),
        "delete" => new DeleteWorkload(write),
        "ttl" => new TtlWorkload(write),
        "counter" => new CounterWorkload(write),
        "set-crdt" => new SetCrdtWorkload(write),
        _ => throw new ArgumentException($"unknown workload '{name}'"),
    };

    public static INemesis CreateNemesis(string name, NemesisContext context) => name switch
    {
        "kill" => new KillNemesis(context),
        "pause" => new PauseNemesis(context),
        "partition" => new PartitionNemesis(context),
        "churn" => new ChurnNemesis(context),
        "wipe" => new WipeNemesis(context),
        _ => throw new ArgumentException($"unknown nemesis '{name}'"),
    };

    public static async Task<CampaignResult> RunAsync(CampaignOptions options, CancellationToken ct = default)
    {
        if (options.Problem() is string problem)
            throw new ArgumentException(problem);
        string dir = options.ResolveDirectory();
        Directory.CreateDirectory(dir);
        var log = options.Log ?? TextWriter.Null;
        string nodeDll = options.NodeDll ?? Path.Combine(AppContext.BaseDirectory, "Kv.Node.dll");
        var random = new Random(options.Seed);
        var phases = new List<(string, TimeSpan)>();
        var clock = Stopwatch.StartNew();
        void Phase(string name)
        {
            phases.Add((name, clock.Elapsed));
            clock.Restart();
        }

        using var history = new History(Path.Combine(dir, "history.jsonl"));
        int spares = options.Nemeses.Contains("churn") ? 1 : 0;
        log.WriteLine($"run dir {dir}");
        var workload = CreateWorkload(options.Workload, Requests.Write with { W = options.W, DW = Math.Min(options.W, 2) });
        await using var cluster = ClusterUnderTest.Start(dir, nodeDll, options.Nodes, spares, options.TombstoneGrace, chaosEnabled: true, log, workload.NodeConfig);
        var clientOptions = new KvClientOptions
        {
            ContactPoints = cluster.Contacts,
            ConnectTimeout = options.SettleTimeout,
            AttemptTimeout = Requests.Timeout + TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(10),
        };
        await using var control = await KvClient.ConnectAsync(clientOptions).ConfigureAwait(false);
        await cluster.WaitSettledAsync(control, options.SettleTimeout, ct).ConfigureAwait(false);
        var clients = new List<KvClient>();
        try
        {
            for (int i = 0; i < options.Clients; i++)
                clients.Add(await KvClient.ConnectAsync(clientOptions).ConfigureAwait(false));
            Phase("setup");

            var context = new NemesisContext(cluster, control, new Random(random.Next()), log);
            var nemeses = options.Nemeses.Distinct().Select(n => CreateNemesis(n, context)).ToList();
            var schedule = new NemesisSchedule(nemeses, options, new Random(random.Next()), history, log);
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                stop.CancelAfter(options.Time);
                log.WriteLine($"workload {workload.Name} for {options.Time.TotalSeconds:0} s with {options.Clients} clients at {options.Rate:0} ops/s; nemesis {string.Join(",", options.Nemeses)}");
                var tasks = clients.Select((c, i) => workload.RunClientAsync(i + 1, c, history, new Pacer(options.Rate / options.Clients), new Random(random.Next()), stop.Token)).ToList();
                tasks.Add(schedule.RunAsync(stop.Token));
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            ct.ThrowIfCancellationRequested();
            Phase("workload");

            await schedule.HealAllAsync().ConfigureAwait(false);
            string? settleProblem = null;
            try
            {
                await cluster.WaitSettledAsync(control, options.SettleTimeout, ct).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                settleProblem = e.Message;
                log.WriteLine(e.Message);
            }
            // Past the tombstone grace (reaping runs once every primary holds the tombstone).
            await Task.Delay(options.TombstoneGrace + TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            Phase("heal+settle");

            await workload.FinalReadAsync(control, history, ct).ConfigureAwait(false);
            history.Flush();
            Phase("final reads");

            var ops = history.Snapshot();
            var check = workload.Check(ops);
            var run = ops.Where(o => o.Client is not (Op.FinalClient or Op.NemesisClient)).ToList();
            var result = new CampaignResult(options, dir, check, nemeses.ToDictionary(n => n.Name, n => n.Actions),
                run.Count, run.Count(o => o.Outcome == Outcome.Ok), run.Count(o => o.Outcome == Outcome.Fail), run.Count(o => o.Outcome == Outcome.Info),
                settleProblem, phases);
            await File.WriteAllTextAsync(Path.Combine(dir, "summary.txt"), result.Summary(), CancellationToken.None).ConfigureAwait(false);
            return result;
        }
        finally
        {
            foreach (var c in clients)
                await c.DisposeAsync().ConfigureAwait(false);
            history.Flush();
        }
    }
}
