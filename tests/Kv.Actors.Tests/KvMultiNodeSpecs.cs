using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Kv.MultiProcess;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;
using RingGossip = Kv.Actors.Ring.RingGossip;

namespace Kv.Actors.Tests;

/// <summary>The store across real node processes (one per role) on real sockets and files.</summary>
public sealed class KvMultiNodeSpecs(ITestOutputHelper output)
{
    [Fact]
    public Task Three_nodes_quorums_siblings_read_repair_quorum_errors_and_kill_restart() =>
        MultiNodeTestRunner.RunAsync<KvThreeNodeSpec>(output);

    [Fact]
    public Task Nodes_join_and_leave_under_write_load_with_handoff_and_lose_nothing() =>
        MultiNodeTestRunner.RunAsync<KvJoinLeaveSpec>(output);

    [Fact]
    public Task Writes_go_on_with_two_nodes_down_and_their_hints_reach_every_primary_without_reads() =>
        MultiNodeTestRunner.RunAsync<KvHintedHandoffSpec>(output);

    [Fact]
    public Task Anti_entropy_completes_replicas_past_the_hint_cap_and_a_node_gone_for_good_is_replaced() =>
        MultiNodeTestRunner.RunAsync<KvSelfHealingSpec>(output);
}

/// <summary>Shared helpers of the store's multi-node specs.</summary>
public abstract class KvMultiNodeSpecBase : MultiNodeSpec
{
    public override string SystemName => "kv";

    public override TimeSpan Timeout => TimeSpan.FromMinutes(3);

    // The node's own Akka config (NodeSettings: cluster provider, KvSerializer, the throttler as with
    // kv.chaos.enabled), the harness sets the port. Failure detection slow enough that a short
    // blackhole is not a partition to resolve.
    public override Config RoleConfig(string role) => KvTestConfig.Node(chaos: true, acceptableHeartbeatPause: "2s", stableAfter: "4s");

    protected static KvNode Start(MultiNodeContext ctx, params string[] seeds) => Start(ctx, o => o, seeds);

    protected static KvNode Start(MultiNodeContext ctx, Func<KvNodeOptions, KvNodeOptions> tweak, params string[] seeds)
    {
        ClusterExt.Get(ctx.System).JoinSeedNodes(seeds.Select(ctx.AddressOf));
        return KvNode.Start(ctx.System, tweak(KvNodeSpec.TestOptions(ctx.DataDirectory) with { RingSize = 32 }));
    }

    /// <summary>
    /// How many (key, replica) pairs of these keys are missing or hold another value than "v{i}",
    /// asked per vnode (no read, so no read repair), over <paramref name="ring"/>'s preference lists,
    /// and the first one missing.
    /// </summary>
    protected static async Task<(int Absent, string? First)> MissingReplicas(MultiNodeContext ctx, Ring.Ring ring, string prefix, int keys)
    {
        int absent = 0;
        string? first = null;
        for (int i = 0; i < keys; i++)
        {
            foreach (var r in ring.PreferenceList(B("default"), B($"{prefix}{i}"), 3))
            {
                VnodeGetReply? reply = null;
                try
                {
                    reply = await KvPaths.Vnode(ctx.System, r.Node, r.Partition).Ask<VnodeGetReply>(new VnodeGet(B("default"), B($"{prefix}{i}"), 1), TimeSpan.FromSeconds(5));
                }
                catch (AskTimeoutException)
                {
                }
                if (reply is not { Found: true } || Encoding.UTF8.GetString(reply.Object!.Values.Single().Value) != $"v{i}")
                {
                    absent++;
                    first ??= $"{prefix}{i} on partition {r.Partition} ({r.Node})";
                }
            }
        }
        return (absent, first);
    }

    protected static Task Await(MultiNodeContext ctx, Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        KvNodeSpec.AwaitConditionAsync(condition, timeout, $"{ctx.Role}: {what}");

    /// <summary>Waits until this node's ring has exactly these members and no pending transfer.</summary>
    protected static Task AwaitSettledRing(MultiNodeContext ctx, KvNode node, IEnumerable<string> roles, TimeSpan timeout)
    {
        var expected = roles.Select(r => ctx.AddressOf(r).ToString()).Order(StringComparer.Ordinal).ToList();
        return Await(ctx, async () => await node.GetRingAsync() is { } ring && ring.Settled && ring.Members.SequenceEqual(expected) && await node.IsServingAsync(),
            timeout, $"a settled ring of [{string.Join(", ", expected)}], and the node serving");
    }

    protected static void Expect(bool condition, string what)
    {
        if (!condition)
            throw new MultiProcessException("expectation failed: " + what);
    }

    protected static T Is<T>(object result, string what) =>
        result is T t ? t : throw new MultiProcessException($"{what}: expected {typeof(T).Name}, got {result}");

    protected static string Text(GetSucceeded g) => string.Join(",", g.Siblings.Select(s => Encoding.UTF8.GetString(s.Value)).Order(StringComparer.Ordinal));

    protected static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
}

/// <summary>
/// Three nodes: quorum write then read from another node (R+W>N), siblings from two writers and
/// their resolution, a blackholed replica repaired by a later read, W=3 failing with the quorum
/// error while a node is down, and kill -9 plus restart under DW=1 writes losing nothing.
/// </summary>
public sealed class KvThreeNodeSpec : KvMultiNodeSpecBase
{
    public override IReadOnlyList<string> Roles => ["n1", "n2", "n3"];

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        var node = Start(ctx, "n1", "n2");
        await AwaitSettledRing(ctx, node, Roles, TimeSpan.FromSeconds(40));
        if (ctx.Incarnation > 1)
        {
            await AfterRestart(ctx, node);
            return;
        }
        await ctx.EnterBarrier("ready");

        // Quorum write on one node, then read-your-writes from another (R + W > N).
        await ctx.RunOn("n1", async () =>
        {
            for (int i = 0; i < 40; i++)
                Is<PutSucceeded>(await node.PutAsync("default", $"k{i}", B($"v{i}")), $"put k{i}");
        });
        await ctx.EnterBarrier("written");
        await ctx.RunOn("n2", async () =>
        {
            for (int i = 0; i < 40; i++)
                Expect(Text(Is<GetSucceeded>(await node.GetAsync("default", $"k{i}"), $"get k{i}")) == $"v{i}", $"k{i} reads v{i}");
            ctx.Log("40 writes on n1 read back on n2");
        });
        await ctx.EnterBarrier("read");

        // Two writers without context make siblings; a write with the merged context resolves them.
        await ctx.RunOn(["n1", "n2"], async () => Is<PutSucceeded>(await node.PutAsync("default", "sib", B("from-" + ctx.Role)), "blind put"));
        await ctx.EnterBarrier("concurrent");
        await ctx.RunOn("n3", async () =>
        {
            var both = Is<GetSucceeded>(await node.GetAsync("default", "sib", new RequestOptions { R = 3 }), "get sib");
            Expect(Text(both) == "from-n1,from-n2", $"two siblings, got {Text(both)}");
            Is<PutSucceeded>(await node.PutAsync("default", "sib", B("merged"), both.Context), "resolving put");
            var after = Is<GetSucceeded>(await node.GetAsync("default", "sib", new RequestOptions { R = 3 }), "get sib");
            Expect(Text(after) == "merged", $"resolved, got {Text(after)}");
            ctx.Log("siblings made and resolved");
        });
        await ctx.EnterBarrier("siblings");

        // A replica on n3 misses writes while blackholed; a later read repairs it. The keys have
        // exactly one replica on n3, so W=2 can be met without it.
        var repairKeys = await OneReplicaOn(ctx, node, "n3");
        await ctx.RunOn("n1", async () =>
        {
            await ctx.Blackhole("n1", "n3");
            await ctx.Blackhole("n2", "n3");
            foreach (var k in repairKeys)
                Is<PutSucceeded>(await node.PutAsync("default", k, B("r-" + k)), $"put {k} with n3 cut off");
            await ctx.PassThrough("n1", "n3");
            await ctx.PassThrough("n2", "n3");
        });
        await ctx.EnterBarrier("blackholed");
        await ctx.RunOn("n3", async () =>
        {
            var ring = (await node.GetRingAsync())!;
            var mine = repairKeys
                .SelectMany(k => ring.PreferenceList(B("default"), B(k), 3).Where(r => r.Node == node.Self).Select(r => (k, r.Partition))).ToList();
            Expect(mine.Count > 0, "n3 holds replicas of the keys written while it was cut off");
            async Task<int> Holding()
            {
                int n = 0;
                foreach (var (k, p) in mine)
                {
                    var reply = await KvPaths.Vnode(ctx.System, node.Self, p).Ask<VnodeGetReply>(new VnodeGet(B("default"), B(k), 1), TimeSpan.FromSeconds(5));
                    n += reply.Object is not null ? 1 : 0;
                }
                return n;
            }
            int before = await Holding();
            Expect(before < mine.Count, $"n3 missed writes while blackholed ({before} of {mine.Count} held)");
            await ctx.EnterBarrier("missing-checked");
            await ctx.EnterBarrier("read-repairing");
            await Await(ctx, async () => await Holding() == mine.Count, TimeSpan.FromSeconds(15), "read repair brought every missed replica to n3");
            ctx.Log($"read repair: n3 held {before} of {mine.Count} replicas before the reads, all after");
        });
        await ctx.RunOn(["n1", "n2"], () => ctx.EnterBarrier("missing-checked"));
        await ctx.RunOn("n1", async () =>
        {
            foreach (var k in repairKeys)
                Expect(Text(Is<GetSucceeded>(await node.GetAsync("default", k, new RequestOptions { R = 3 }), $"get {k}")) == "r-" + k, $"{k} reads back");
        });
        await ctx.RunOn(["n1", "n2"], () => ctx.EnterBarrier("read-repairing"));
        await ctx.EnterBarrier("repaired");
        await ctx.RunOn("n1", () => { Expect(node.Stats.ReadRepairs > 0, "read repairs counted"); return Task.CompletedTask; });

        // Issue 26: keys deleted while n3 is cut off. Their first reap cannot happen (n3 does not
        // answer the reaper); once n3 is back and a read has repaired it, the vnodes' sweeps reap
        // them, with no second delete (it used to be one in-memory timer per delete, never retried).
        await ctx.RunOn("n1", async () =>
        {
            await ctx.Blackhole("n1", "n3");
            await ctx.Blackhole("n2", "n3");
            foreach (var k in repairKeys)
            {
                var read = Is<GetSucceeded>(await node.GetAsync("default", k), $"get {k} before its delete");
                Is<PutSucceeded>(await node.DeleteAsync("default", k, read.Context), $"delete {k} with n3 cut off");
            }
            await Task.Delay(1500); // the scheduled reaps run now, and find n3 silent
            await ctx.PassThrough("n1", "n3");
            await ctx.PassThrough("n2", "n3");
            var ring = (await node.GetRingAsync())!;
            async Task<int> Held()
            {
                int held = 0;
                foreach (var k in repairKeys)
                {
                    foreach (var r in ring.PreferenceList(B("default"), B(k), 3))
                    {
                        var reply = await KvPaths.Vnode(ctx.System, r.Node, r.Partition).Ask<VnodeGetReply>(new VnodeGet(B("default"), B(k), 1), TimeSpan.FromSeconds(5));
                        held += reply.Found ? 1 : 0;
                    }
                }
                return held;
            }
            int before = await Held();
            Expect(before == 3 * repairKeys.Count, $"nothing reaped while n3 was cut off ({before} of {3 * repairKeys.Count} replicas hold the keys)");
            foreach (var k in repairKeys)
                Is<NotFound>(await node.GetAsync("default", k, new RequestOptions { R = 3 }), $"get {k} after its delete"); // repairs n3
            await Await(ctx, async () => await Held() == 0, TimeSpan.FromSeconds(20), "the deleted keys reaped on all three nodes once n3 was back");
            ctx.Log($"{repairKeys.Count} keys deleted while n3 was cut off were reaped after it came back");
        });
        await ctx.EnterBarrier("reaped-later");

        // n3 is killed: W=3 fails with the quorum error; W=2/DW=1 writes go on. Then n3 restarts.
        if (ctx.Role == "n3")
        {
            await ctx.EnterBarrier("before-kill");
            await Task.Delay(System.Threading.Timeout.Infinite); // killed here
        }
        await ctx.EnterBarrier("before-kill");
        await ctx.RunOn("n1", async () =>
        {
            var ring = (await node.GetRingAsync())!;
            string n3 = ctx.AddressOf("n3").ToString();
            string key = Enumerable.Range(0, 1000).Select(i => $"w3-{i}").First(k => ring.PreferenceList(B("default"), B(k), 3).Select(r => r.Node).Distinct().Count() == 3);
            await ctx.Kill("n3");
            var failed = Is<QuorumNotMet>(await node.PutAsync("default", key, B("x"), options: new RequestOptions { W = 3, DW = 1, Timeout = TimeSpan.FromSeconds(1) }), "W=3 put with n3 down");
            Expect(failed.Answered == 2 && failed.Needed == 3, $"2 of 3 answered: {failed}");
            Expect(failed.ToString().Contains("2 of 3 replicas answered", StringComparison.Ordinal), failed.ToString());
            ctx.Log($"W=3 with a node down: {failed}");

            var acked = new List<int>();
            var restart = ctx.Restart("n3");
            for (int i = 0; !restart.IsCompleted || i < 60; i++)
            {
                // Keys n1 coordinates itself (a key forwarded to the killed node would only time out).
                if (!ring.PreferenceList(B("default"), B($"d{i}"), 3).Any(r => r.Node == node.Self))
                    continue;
                if (await node.PutAsync("default", $"d{i}", B($"d{i}"), options: new RequestOptions { W = 2, DW = 1, Timeout = TimeSpan.FromSeconds(2) }) is PutSucceeded)
                    acked.Add(i);
                if (i > 2000)
                    break;
            }
            await restart;
            File.WriteAllText(Path.Combine(ctx.DataDirectory, "..", "acked.txt"), string.Join(",", acked));
            ctx.Log($"{acked.Count} writes acknowledged with DW=1 while n3 was down and restarting");
        });
        await ctx.EnterBarrier("restarted");
        await ctx.EnterBarrier("verified");
        await StaleLeavingMark(ctx, node);
    }

    /// <summary>
    /// A ring that marks n3 leaving although n3 never asked to leave, as left on disk when a node
    /// leaves (or is leaving) and the cluster stops before the claimant drops the mark, then the
    /// node is started again at the same address. n3 must ask to be claimed again, not be emptied
    /// for good.
    /// </summary>
    private static async Task StaleLeavingMark(MultiNodeContext ctx, KvNode node)
    {
        string n3 = ctx.AddressOf("n3").ToString();
        await ctx.RunOn("n1", async () =>
        {
            var marked = (await node.GetRingAsync())!.WithLeaving(n3);
            File.WriteAllText(Path.Combine(ctx.DataDirectory, "..", "marked.txt"), marked.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
            node.RingManager.Tell(new RingGossip(marked), ActorRefs.NoSender);
        });
        await ctx.EnterBarrier("marked");
        long markedVersion = long.Parse(File.ReadAllText(Path.Combine(ctx.DataDirectory, "..", "marked.txt")), System.Globalization.CultureInfo.InvariantCulture);
        var all = new[] { "n1", "n2", "n3" }.Select(r => ctx.AddressOf(r).ToString()).Order(StringComparer.Ordinal).ToList();
        await Await(ctx, async () => await node.GetRingAsync() is { } ring && ring.Version > markedVersion && ring.Leaving.Count == 0
            && ring.Settled && ring.Members.SequenceEqual(all), TimeSpan.FromSeconds(60), "n3 claimed again after a stale leaving mark");
        ctx.Log("a stale leaving mark on n3 was taken off; the ring settled over all three nodes");
        await ctx.EnterBarrier("rejoined");
    }

    /// <summary>
    /// Ten keys with exactly one replica on <paramref name="role"/> and one on n1 (the writer, so
    /// it coordinates them itself); the same on every node, since all hold the same ring.
    /// </summary>
    private static async Task<List<string>> OneReplicaOn(MultiNodeContext ctx, KvNode node, string role)
    {
        var ring = (await node.GetRingAsync())!;
        string target = ctx.AddressOf(role).ToString(), n1 = ctx.AddressOf("n1").ToString();
        return Enumerable.Range(0, 10_000).Select(i => $"rr{i}")
            .Where(k => ring.PreferenceList(B("default"), B(k), 3) is var list && list.Count(r => r.Node == target) == 1 && list.Any(r => r.Node == n1))
            .Take(10).ToList();
    }

    private static async Task AfterRestart(MultiNodeContext ctx, KvNode node)
    {
        await ctx.EnterBarrier("restarted");
        var acked = File.ReadAllText(Path.Combine(ctx.DataDirectory, "..", "acked.txt")).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        Expect(acked.Count >= 30, $"enough acknowledged writes ({acked.Count})");
        foreach (int i in acked)
            Expect(Text(Is<GetSucceeded>(await node.GetAsync("default", $"d{i}", new RequestOptions { R = 3 }), $"get d{i}")) == $"d{i}", $"d{i} readable at R=3 after the restart");
        ctx.Log($"all {acked.Count} acknowledged writes read at R=3 on the restarted node");
        await ctx.EnterBarrier("verified");
        await StaleLeavingMark(ctx, node);
    }
}

/// <summary>
/// Three nodes under a steady write load; two more join (handoff moves partitions to them), then
/// one leaves (its partitions are handed off before it exits). Afterwards every acknowledged key is
/// on every replica of its preference list with the right value, and reads at R=N return it.
/// </summary>
public sealed class KvJoinLeaveSpec : KvMultiNodeSpecBase
{
    public override IReadOnlyList<string> Roles => ["n1", "n2", "n3", "n4", "n5"];

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        string[] first = ["n1", "n2", "n3"];
        KvNode? node = null;
        if (first.Contains(ctx.Role))
        {
            node = Start(ctx, "n1", "n2");
            await AwaitSettledRing(ctx, node, first, TimeSpan.FromSeconds(40));
        }
        await ctx.EnterBarrier("three-ready");

        // A writer on n1: unique keys, W=2, DW=1, until told to stop.
        var acked = new List<int>();
        using var stop = new CancellationTokenSource();
        Task? load = null;
        if (ctx.Role == "n1")
        {
            load = Task.Run(async () =>
            {
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        if (await node!.PutAsync("default", $"L{i}", B($"value-{i}"), options: new RequestOptions { DW = 1 }) is PutSucceeded)
                        {
                            lock (acked)
                                acked.Add(i);
                        }
                    }
                    catch (AskTimeoutException)
                    {
                        // Not acknowledged (e.g. forwarded to a node that was leaving): not counted.
                    }
                }
            });
            await Task.Delay(1000);
        }
        await ctx.EnterBarrier("load-started");

        // Two nodes join under load.
        await ctx.RunOn(["n4", "n5"], () =>
        {
            node = Start(ctx, "n1", "n2");
            return Task.CompletedTask;
        });
        await AwaitSettledRing(ctx, node!, ["n1", "n2", "n3", "n4", "n5"], TimeSpan.FromSeconds(90));
        var status = await node!.GetHandoffStatusAsync();
        ctx.Log($"5 nodes, ring settled; vnodes here: {status.Vnodes.Count}; transfers sent: {Describe(status)}");
        await ctx.EnterBarrier("five-settled");

        // n2 leaves under load: its partitions are handed off, then it leaves the cluster.
        if (ctx.Role == "n2")
        {
            await node.LeaveAsync(TimeSpan.FromSeconds(90));
            var handedOff = await node.GetHandoffStatusAsync();
            ctx.Log($"n2 owns nothing now; transfers: {Describe(handedOff)}");
            Expect(handedOff.Transfers.Count > 0 && handedOff.Transfers.All(t => t.State == HandoffState.Done), "every partition of n2 was handed off");
            await CoordinatedShutdown.Get(ctx.System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
            return;
        }
        string[] remaining = ["n1", "n3", "n4", "n5"];
        await AwaitSettledRing(ctx, node, remaining, TimeSpan.FromSeconds(90));
        var cluster = ClusterExt.Get(ctx.System);
        await Await(ctx, () => Task.FromResult(cluster.State.Members.Count == 4 && cluster.State.Members.All(m => m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(30), "n2 removed from the cluster");
        await ctx.EnterBarrier("n2-left");

        await ctx.RunOn("n1", async () =>
        {
            await Task.Delay(500);
            await stop.CancelAsync();
            await load!;
            List<int> keys;
            lock (acked)
                keys = [.. acked];
            Expect(keys.Count >= 100, $"enough writes were acknowledged under load ({keys.Count})");
            var ring = (await node.GetRingAsync())!;
            var missing = new List<string>();
            async Task<int> Holding(int i)
            {
                int holding = 0;
                foreach (var replica in ring.PreferenceList(B("default"), B($"L{i}"), 3))
                {
                    var reply = await KvPaths.Vnode(ctx.System, replica.Node, replica.Partition).Ask<VnodeGetReply>(new VnodeGet(B("default"), B($"L{i}"), 1), TimeSpan.FromSeconds(5));
                    var values = reply.Object?.Values.Select(v => Encoding.UTF8.GetString(v.Value)).ToList() ?? [];
                    Expect(values.Count == 0 || values.SequenceEqual([$"value-{i}"]), $"L{i} on partition {replica.Partition} at {replica.Node}: [{string.Join(", ", values)}]");
                    holding += values.Count;
                    if (values.Count == 0)
                        missing.Add($"{replica.Node.Split(':')[^1]}/p{replica.Partition}");
                }
                return holding;
            }
            // Acknowledged at W=2: at least two replicas of the final ring hold it (handoff lost nothing).
            int complete = 0;
            foreach (int i in keys)
            {
                int holding = await Holding(i);
                Expect(holding >= 2, $"L{i} is on {holding} of 3 replicas");
                complete += holding == 3 ? 1 : 0;
            }
            // Reads at R=N return the right value, and read repair completes the third replica.
            foreach (int i in keys)
                Expect(Text(Is<GetSucceeded>(await node.GetAsync("default", $"L{i}", new RequestOptions { R = 3 }), $"get L{i}")) == $"value-{i}", $"L{i} at R=3");
            foreach (int i in keys)
                await Await(ctx, async () => await Holding(i) == 3, TimeSpan.FromSeconds(10), $"L{i} on all 3 replicas after read repair");
            if (missing.Count > 0)
                ctx.Log("replicas missing a key before the reads (node/partition=keys): " + string.Join(", ", missing.GroupBy(m => m).Select(g => $"{g.Key}={g.Count()}")));
            ctx.Log($"{complete} of {keys.Count} keys were on all 3 replicas before the reads, every one after; read repairs {node.Stats.ReadRepairs}");
            ctx.Log($"{keys.Count} keys acknowledged during two joins and a leave, all readable at R=3 with the right value; forwarded {node.Stats.Forwarded}");
        });
        await ctx.EnterBarrier("verified");
    }

    private static string Describe(HandoffStatus s) =>
        s.Transfers.Count == 0 ? "none" : string.Join("; ", s.Transfers.Select(t => $"p{t.Partition}->{t.Target.Split(':')[^1]} {t.State} {t.Keys} keys {t.Bytes} B"));
}

/// <summary>
/// Sloppy quorum and hinted handoff on five node processes: two nodes are killed (-9); 1,000 writes
/// at W=2 all succeed, fallbacks keeping hints for the primaries that are away; the two come back;
/// with no reads (which would repair), every key is on all three of its primaries (asked per
/// vnode) within 60 s, and every hint store is empty. Then n5 loses its disk (killed, data
/// directory deleted, started again empty): its vnodes fill themselves, and again every key is on
/// all three primaries within 60 s without reads.
/// </summary>
public sealed class KvHintedHandoffSpec : KvMultiNodeSpecBase
{
    private const int Keys = 1000;

    public override IReadOnlyList<string> Roles => ["n1", "n2", "n3", "n4", "n5"];

    public override TimeSpan Timeout => TimeSpan.FromMinutes(4);

    public override TimeSpan BarrierTimeout => TimeSpan.FromMinutes(3);

    // The split-brain resolver must not down the two while they are away (the claim would move
    // their partitions, which is not what this spec is about).
    public override Config RoleConfig(string role) => KvTestConfig.Node(chaos: true, acceptableHeartbeatPause: "2s", stableAfter: "120s");

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        // A write acknowledged at W=2 may have reached only two of its three replicas (the third
        // message lost or late, so no hint was kept for it): anti-entropy, every 2 s here, completes those.
        var node = Start(ctx, o => o with { Aae = new Aae.AaeOptions { ExchangeInterval = TimeSpan.FromSeconds(2) } }, "n1", "n2");
        await AwaitSettledRing(ctx, node, Roles, TimeSpan.FromSeconds(90));
        if (ctx.Incarnation == 3)
        {
            // n5, started again with no data at all.
            await ctx.EnterBarrier("wiped");
            await ctx.EnterBarrier("wipe-verified");
            return;
        }
        if (ctx.Incarnation == 2)
        {
            await ctx.EnterBarrier("restarted");
            await ctx.EnterBarrier("verified");
            await ctx.EnterBarrier("before-wipe");
            if (ctx.Role == "n5")
                await Task.Delay(System.Threading.Timeout.Infinite); // killed and wiped here
            await ctx.EnterBarrier("wiped");
            await ctx.EnterBarrier("wipe-verified");
            return;
        }
        await ctx.EnterBarrier("ready");
        if (ctx.Role is "n4" or "n5")
        {
            await ctx.EnterBarrier("before-kill");
            await Task.Delay(System.Threading.Timeout.Infinite); // killed here
        }
        await ctx.EnterBarrier("before-kill");
        await ctx.RunOn("n1", async () =>
        {
            string n4 = ctx.AddressOf("n4").ToString(), n5 = ctx.AddressOf("n5").ToString();
            await ctx.Kill("n4");
            await ctx.Kill("n5");
            await Await(ctx, () => Task.FromResult(ClusterExt.Get(ctx.System).State.Unreachable.Count(m => m.Address.ToString() is var a && (a == n4 || a == n5)) == 2),
                TimeSpan.FromSeconds(20), "n4 and n5 unreachable");
            var ring = (await node.GetRingAsync())!;
            int bothAway = Enumerable.Range(0, Keys).Count(i => ring.PreferenceList(B("default"), B($"h{i}"), 3).Count(r => r.Node == n4 || r.Node == n5) == 2);
            for (int i = 0; i < Keys; i++)
                Is<PutSucceeded>(await node.PutAsync("default", $"h{i}", B($"v{i}"), options: new RequestOptions { W = 2, DW = 2 }), $"put h{i} with n4 and n5 down");
            long held = 0;
            foreach (var live in new[] { "n1", "n2", "n3" })
                held += (await KvPaths.On(ctx.System, ctx.AddressOf(live).ToString(), KvPaths.HintStore).Ask<Hints.HintStatus>(Hints.GetHintStatus.Instance, TimeSpan.FromSeconds(5))).Targets.Sum(t => t.Count);
            Expect(held > 0, "fallbacks hold hints");
            ctx.Log($"{Keys} writes at W=2 with n4 and n5 down all succeeded ({bothAway} keys had two primaries away); {held} hints held");
            await Task.WhenAll(ctx.Restart("n4"), ctx.Restart("n5"));
        });
        await ctx.EnterBarrier("restarted");
        await ctx.RunOn("n1", () => AllOnAllPrimaries(ctx, node, "n4 and n5 were back"));
        await ctx.EnterBarrier("verified");

        // n5 loses its disk: killed, its data directory deleted, started again empty. Its vnodes
        // fill themselves from their neighbours: with no reads, every key is on all three again.
        await ctx.EnterBarrier("before-wipe");
        await ctx.RunOn("n1", async () =>
        {
            await ctx.Kill("n5");
            Directory.Delete(Path.Combine(ctx.DataDirectory, "..", "n5"), recursive: true);
            await ctx.Restart("n5");
        });
        await ctx.EnterBarrier("wiped");
        await ctx.RunOn("n1", () => AllOnAllPrimaries(ctx, node, "n5 came back with no data"));
        await ctx.EnterBarrier("wipe-verified");
    }

    /// <summary>Waits (60 s at most) until every key is on all three of its primaries, asked per vnode (no read, so no read repair), and every hint store is empty.</summary>
    private async Task AllOnAllPrimaries(MultiNodeContext ctx, KvNode node, string since)
    {
        {
            await AwaitSettledRing(ctx, node, Roles, TimeSpan.FromSeconds(60));
            var ring = (await node.GetRingAsync())!;
            var started = DateTime.UtcNow;
            string missing = "";
            async Task<bool> AllOnPrimaries()
            {
                var (absent, first) = await MissingReplicas(ctx, ring, "h", Keys);
                missing = $"{absent} replicas missing, first {first}";
                return absent == 0;
            }
            async Task<string> HintsLeft()
            {
                var left = new List<string>();
                foreach (var role in Roles)
                {
                    var status = await KvPaths.On(ctx.System, ctx.AddressOf(role).ToString(), KvPaths.HintStore).Ask<Hints.HintStatus>(Hints.GetHintStatus.Instance, TimeSpan.FromSeconds(5));
                    left.AddRange(status.Targets.Where(t => t.Count > 0).Select(t => $"{role} holds {t.Count} for {t.Target} ({t.State}, {t.Delivered} delivered, {t.Dropped} dropped)"));
                }
                return left.Count == 0 ? "none" : string.Join("; ", left);
            }
            try
            {
                await Await(ctx, AllOnPrimaries, TimeSpan.FromSeconds(60), "every key on all three primaries, with no reads");
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}: {missing}; hints left: {await HintsLeft()}", e);
            }
            string hintsLeft = await HintsLeft();
            Expect(hintsLeft == "none", $"every hint store empty (left: {hintsLeft})");
            ctx.Log($"all {Keys} keys on all three primaries {(DateTime.UtcNow - started).TotalSeconds:0.0} s after {since}; hint stores empty ({missing})");
        }
    }
}

/// <summary>
/// Anti-entropy and re-replication on five node processes. (b) n5 is killed; 650 writes at W=2 go
/// on, but each fallback keeps at most 8 KiB of hints for n5, and none once n5 has been away for
/// the 4 s hint window: the rest are dropped and counted; n5 comes back, and with no reads every
/// key is on all three primaries again (the hints that were kept, and Merkle-tree exchanges for the
/// rest). (c) bytes flipped in a table of n3's: no read returns other data, the table is rewritten
/// and every replica holds its keys again. (d) n4 is killed for good: the resolver downs it, after
/// permanent-failure-after (25 s here) it is removed, its partitions go to the others,
/// and with no reads every key is on three distinct live nodes again.
/// </summary>
public sealed class KvSelfHealingSpec : KvMultiNodeSpecBase
{
    private const int Keys = 650;
    private const int BeforeWindow = 600;
    private static readonly TimeSpan HintWindow = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan PermanentFailureAfter = TimeSpan.FromSeconds(25);

    public override IReadOnlyList<string> Roles => ["n1", "n2", "n3", "n4", "n5"];

    public override TimeSpan Timeout => TimeSpan.FromMinutes(4);

    public override TimeSpan BarrierTimeout => TimeSpan.FromMinutes(3);

    // The split-brain resolver downs a node away for 15 s; permanent-failure-after (25 s from when it
    // was unreachable) removes it for good. n5 and n3 come back within that time and keep their partitions.
    public override Config RoleConfig(string role) => KvTestConfig.Node(chaos: true, acceptableHeartbeatPause: "2s", stableAfter: "15s");

    private static KvNodeOptions Options(KvNodeOptions o) => o with
    {
        PermanentFailureAfter = PermanentFailureAfter,
        Hints = o.Hints with { MaxBytesPerTarget = 8 * 1024, Window = HintWindow },
        Aae = new Aae.AaeOptions { ExchangeInterval = TimeSpan.FromMilliseconds(100), Concurrency = 2, TreeRebuildInterval = TimeSpan.FromMinutes(30) },
    };

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        var node = Start(ctx, Options, "n1", "n2");
        if (ctx.Role == "n5" && ctx.Incarnation == 2)
        {
            // n5, back after missing most of its hints.
            await AwaitSettledRing(ctx, node, Roles, TimeSpan.FromSeconds(60));
            await ctx.EnterBarrier("back");
            await ctx.EnterBarrier("repaired");
            await ctx.EnterBarrier("written");
            await ctx.EnterBarrier("n3-stopped");
            await ctx.EnterBarrier("damage-repaired");
            await ctx.EnterBarrier("before-loss");
            await ctx.EnterBarrier("replaced");
            return;
        }
        if (ctx.Role == "n3" && ctx.Incarnation == 2)
        {
            // n3 with a damaged table: reads get an error for this replica, never data; the table is rewritten and refilled.
            await AwaitSettledRing(ctx, node, Roles, TimeSpan.FromSeconds(60));
            await ctx.EnterBarrier("damage-repaired");
            Expect(node.Stats.CorruptReads > 0 && node.Stats.TablesRepaired > 0, $"n3 found the damage and rewrote the table ({node.Stats.CorruptReads} damaged reads, {node.Stats.TablesRepaired} tables rewritten)");
            ctx.Log($"n3: {node.Stats.CorruptReads} reads hit damaged blocks, {node.Stats.TablesRepaired} tables rewritten");
            await ctx.EnterBarrier("before-loss");
            await ctx.EnterBarrier("replaced");
            return;
        }
        await AwaitSettledRing(ctx, node, Roles, TimeSpan.FromSeconds(90));
        await ctx.EnterBarrier("ready");
        if (ctx.Role == "n5")
        {
            await ctx.EnterBarrier("before-kill");
            await Task.Delay(System.Threading.Timeout.Infinite); // killed here
        }
        await ctx.EnterBarrier("before-kill");
        await ctx.RunOn("n1", async () =>
        {
            string n5 = ctx.AddressOf("n5").ToString();
            await ctx.Kill("n5");
            await Await(ctx, () => Task.FromResult(ClusterExt.Get(ctx.System).State.Unreachable.Any(m => m.Address.ToString() == n5)), TimeSpan.FromSeconds(20), "n5 unreachable");
            var away = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < BeforeWindow; i++)
                Is<PutSucceeded>(await node.PutAsync("default", $"b{i}", B($"v{i}"), options: new RequestOptions { W = 2, DW = 2 }), $"put b{i} with n5 down");
            // Past the hint window: no new hint for n5 anywhere, the writes still succeed.
            if (away.Elapsed < HintWindow + TimeSpan.FromSeconds(1))
                await Task.Delay(HintWindow + TimeSpan.FromSeconds(1) - away.Elapsed);
            for (int i = BeforeWindow; i < Keys; i++)
                Is<PutSucceeded>(await node.PutAsync("default", $"b{i}", B($"v{i}"), options: new RequestOptions { W = 2, DW = 2 }), $"put b{i} with n5 away past the hint window");
            long held = 0, dropped = 0, bytes = 0;
            var states = new List<string>();
            foreach (var live in new[] { "n1", "n2", "n3", "n4" })
            {
                var status = await KvPaths.On(ctx.System, ctx.AddressOf(live).ToString(), KvPaths.HintStore).Ask<Hints.HintStatus>(Hints.GetHintStatus.Instance, TimeSpan.FromSeconds(5));
                foreach (var t in status.Targets.Where(t => t.Target == n5))
                {
                    held += t.Count;
                    dropped += t.Dropped;
                    bytes = Math.Max(bytes, t.Bytes);
                    states.Add($"{live}: {t.State}");
                    Expect(t.Bytes <= 8 * 1024, $"hints for n5 on {live} within the 8 KiB cap ({t.Bytes} bytes)");
                }
            }
            Expect(held > 0 && dropped > 0, $"hints for n5 stopped at the cap and the window and the rest were counted ({held} held, {dropped} dropped)");
            Expect(states.Any(st => st.EndsWith("window passed", StringComparison.Ordinal)), $"a holder reports n5 past the hint window ({string.Join(", ", states)})");
            ctx.Log($"{Keys} writes at W=2 with n5 down ({Keys - BeforeWindow} after the {HintWindow.TotalSeconds:0} s hint window): {held} hints held for it (at most {bytes} bytes on one holder), {dropped} dropped past the cap or the window; {string.Join(", ", states)}");
            await ctx.Restart("n5");
        });
        await ctx.EnterBarrier("back");
        await ctx.RunOn("n1", async () =>
        {
            var started = DateTime.UtcNow;
            var ring = (await node.GetRingAsync())!;
            string missing = "";
            await Await(ctx, async () =>
            {
                var (absent, first) = await MissingReplicas(ctx, ring, "b", Keys);
                missing = $"{absent} replicas missing, first {first}";
                return absent == 0;
            }, TimeSpan.FromSeconds(90), "every key on all three primaries after n5 came back, with no reads");
            long repaired = 0;
            foreach (var role in Roles)
                repaired += (await KvPaths.On(ctx.System, ctx.AddressOf(role).ToString(), KvPaths.Aae).Ask<Aae.AaeStatus>(Aae.GetAaeStatus.Instance, TimeSpan.FromSeconds(5))).Exchanges.Sum(e => e.TotalRepaired);
            Expect(repaired > 0, "anti-entropy repaired keys");
            Expect(node.Stats.ReadRepairs == 0, "no read repair on the coordinator");
            ctx.Log($"all {Keys} keys on all three primaries {(DateTime.UtcNow - started).TotalSeconds:0.0} s after n5 was back; anti-entropy repaired {repaired} keys");
        });
        await ctx.EnterBarrier("repaired");

        // (c) Bytes flipped in a table of n3's: no read returns wrong data, and the replica is repaired.
        await ctx.RunOn("n1", async () =>
        {
            for (int i = 0; i < DamageKeys; i++)
                Is<PutSucceeded>(await node.PutAsync("default", $"c{i}", B($"v{i}"), options: new RequestOptions { W = 3, DW = 3 }), $"put c{i}");
        });
        await ctx.EnterBarrier("written");
        if (ctx.Role == "n3")
        {
            // A clean stop: every vnode's memtable goes into a table.
            await ctx.System.Terminate();
            await node.Stopped;
            await ctx.EnterBarrier("n3-stopped");
            await Task.Delay(System.Threading.Timeout.Infinite); // killed here
        }
        await ctx.EnterBarrier("n3-stopped");
        await ctx.RunOn("n1", () => DamageATable(ctx, node));
        await ctx.EnterBarrier("damage-repaired");

        // (d) n4 is killed and never comes back.
        if (ctx.Role == "n4")
        {
            await ctx.EnterBarrier("before-loss");
            await Task.Delay(System.Threading.Timeout.Infinite); // killed here, for good
        }
        await ctx.EnterBarrier("before-loss");
        await ctx.RunOn("n1", async () =>
        {
            string n4 = ctx.AddressOf("n4").ToString();
            var killed = DateTime.UtcNow;
            await ctx.Kill("n4");
            // Until permanent-failure-after the ring keeps n4's partitions.
            await Task.Delay(PermanentFailureAfter / 2);
            Expect((await node.GetRingAsync())!.Members.Contains(n4), "n4 still owns its partitions before permanent-failure-after");
            var live = new[] { "n1", "n2", "n3", "n5" };
            await AwaitSettledRing(ctx, node, live, TimeSpan.FromSeconds(90));
            var removed = DateTime.UtcNow;
            var ring = (await node.GetRingAsync())!;
            Expect(!ring.Owners.Contains(n4), "n4 owns nothing");
            string missing = "";
            await Await(ctx, async () =>
            {
                var (absent, first) = await MissingReplicas(ctx, ring, "b", Keys);
                missing = $"{absent} replicas missing, first {first}";
                return absent == 0;
            }, TimeSpan.FromSeconds(90), "every key on three distinct live nodes, with no reads");
            for (int i = 0; i < Keys; i++)
            {
                var nodes = ring.PreferenceList(B("default"), B($"b{i}"), 3).Select(r => r.Node).Distinct().Count();
                Expect(nodes == 3, $"b{i} on three distinct nodes ({nodes})");
            }
            ctx.Log($"n4 removed {(removed - killed).TotalSeconds:0.0} s after it was killed; every key on three distinct live nodes {(DateTime.UtcNow - removed).TotalSeconds:0.0} s after that");
        });
        await ctx.EnterBarrier("replaced");
    }

    private const int DamageKeys = 300;

    private static async Task DamageATable(MultiNodeContext ctx, KvNode node)
    {
        // n3 stopped cleanly (its data in tables); its process goes, and bytes in the first block of its largest table are flipped.
        await ctx.Kill("n3");
        string vnodes = Path.Combine(ctx.DataDirectory, "..", "n3", "vnodes");
        var table = Directory.EnumerateFiles(vnodes, "*.sst", SearchOption.AllDirectories).MaxBy(f => new FileInfo(f).Length)
            ?? throw new MultiProcessException("n3 has no table");
        using (var file = File.Open(table, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 64;
            var bytes = new byte[16];
            file.ReadExactly(bytes);
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] ^= 0x5A;
            file.Position = 64;
            file.Write(bytes);
        }
        ctx.Log($"flipped 16 bytes of {Path.GetRelativePath(vnodes, table)} ({new FileInfo(table).Length} bytes) on n3");
        await ctx.Restart("n3");
        await AwaitSettledRing(ctx, node, ["n1", "n2", "n3", "n4", "n5"], TimeSpan.FromSeconds(60));

        // Every read returns the value written, or an error: never other data.
        int errors = 0;
        for (int i = 0; i < DamageKeys; i++)
        {
            var result = await node.GetAsync("default", $"c{i}", new RequestOptions { R = 3 });
            if (result is GetSucceeded got)
                Expect(Text(got) == $"v{i}", $"c{i} reads v{i} ({Text(got)})");
            else
                errors++;
        }
        // With no more reads, every replica holds its keys again (read repair, the refill of what the table lost, anti-entropy).
        var ring = (await node.GetRingAsync())!;
        string missing = "";
        await Await(ctx, async () =>
        {
            var c = await MissingReplicas(ctx, ring, "c", DamageKeys);
            var b = await MissingReplicas(ctx, ring, "b", Keys);
            missing = $"{c.Absent + b.Absent} replicas missing, first {c.First ?? b.First}";
            return c.Absent + b.Absent == 0;
        }, TimeSpan.FromSeconds(60), "every replica repaired after the damage");
        ctx.Log($"reads after the damage: {DamageKeys - errors} right, {errors} errors at R=3, none wrong; every replica repaired");
    }
}
