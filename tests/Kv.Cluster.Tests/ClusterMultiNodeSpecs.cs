using Kv.Cluster.Actor;
using Kv.Cluster.Cluster;
using Kv.Cluster.TestKit;
using Kv.Cluster.TestKit.MultiNode;
using Xunit.Abstractions;
using ClusterExt = Kv.Cluster.Cluster.Cluster;

namespace Kv.Cluster.Tests;

/// <summary>Cluster membership across real processes (one per role).</summary>
public sealed class ClusterMultiNodeSpecs(ITestOutputHelper output)
{
    [Fact]
    public Task Five_nodes_join_converge_and_a_member_and_the_leader_leave() =>
        MultiNodeTestRunner.RunAsync<ClusterJoinLeaveSpec>(output);

    [Fact]
    public Task A_killed_node_is_downed_and_removed_and_its_restart_joins_again() =>
        MultiNodeTestRunner.RunAsync<ClusterKillRestartSpec>(output);

    [Fact]
    public Task A_node_restarted_before_it_was_removed_replaces_its_old_incarnation() =>
        MultiNodeTestRunner.RunAsync<ClusterQuickRestartSpec>(output);

    [Fact]
    public Task A_3_2_partition_keeps_the_majority_and_the_minority_downs_itself() =>
        MultiNodeTestRunner.RunAsync<ClusterPartitionSpec>(output);
}

/// <summary>Shared helpers of the cluster multi-node specs.</summary>
public abstract class ClusterMultiNodeSpecBase : MultiNodeSpec
{
    public override string SystemName => "kv";

    public override ActorSystemOptions NodeOptions(string role) => new() { Cluster = ClusterSpec.Fast() };

    protected static ClusterExt Join(MultiNodeContext ctx, params string[] seedRoles)
    {
        var cluster = ClusterExt.Get(ctx.System);
        cluster.JoinSeedNodes(seedRoles.Select(ctx.AddressOf));
        return cluster;
    }

    protected static async Task Await(MultiNodeContext ctx, Func<bool> condition, TimeSpan timeout, string what)
    {
        var end = DateTime.UtcNow + TestKitSettings.Dilated(timeout);
        while (!condition())
        {
            if (DateTime.UtcNow > end)
                throw new TestKitException($"{ctx.Role}: not in time: {what}; state: {Describe(ClusterExt.Get(ctx.System).State)}");
            await Task.Delay(50);
        }
    }

    protected static bool AllUp(ClusterExt cluster, int count) =>
        cluster.State.Members.Count == count && cluster.State.Members.All(m => m.Status == MemberStatus.Up) && cluster.State.Convergence;

    protected static string Describe(CurrentClusterState s) =>
        $"members [{string.Join(", ", s.Members)}], unreachable [{string.Join(", ", s.Unreachable.Select(m => m.Address))}], leader {s.Leader}, convergence {s.Convergence}";
}

public sealed class ClusterJoinLeaveSpec : ClusterMultiNodeSpecBase
{
    public override IReadOnlyList<string> Roles => ["n1", "n2", "n3", "n4", "n5"];

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        var cluster = Join(ctx, "n1", "n2");
        await Await(ctx, () => AllUp(cluster, 5), TimeSpan.FromSeconds(30), "5 members Up");
        ctx.Log($"converged: {Describe(cluster.State)}");
        await ctx.EnterBarrier("converged");

        // A member (not the leader) leaves.
        var leader = cluster.State.Leader!;
        string leaverRole = Roles.First(r => !ctx.AddressOf(r).Equals(leader));
        if (ctx.Role == leaverRole)
        {
            await CoordinatedShutdown.Get(ctx.System).Run(ShutdownReason.ClusterLeaving);
            ctx.Log($"left; reason {CoordinatedShutdown.Get(ctx.System).Reason}");
            return;
        }
        await Await(ctx, () => AllUp(cluster, 4), TimeSpan.FromSeconds(20), "4 members after the member left");
        await ctx.EnterBarrier("member-left");

        // The leader leaves; the rest elect the next lowest address.
        var leaderRole = Roles.First(r => ctx.AddressOf(r).Equals(leader));
        if (ctx.Role == leaderRole)
        {
            await CoordinatedShutdown.Get(ctx.System).Run(ShutdownReason.ClusterLeaving);
            return;
        }
        await Await(ctx, () => AllUp(cluster, 3) && cluster.State.Leader is { } l && !l.Equals(leader), TimeSpan.FromSeconds(20), "3 members and a new leader");
        await ctx.EnterBarrier("leader-left");
    }
}

/// <summary>n3 is killed with SIGKILL and restarted (new uid, same port): after its removal, or at once.</summary>
public abstract class KillRestartSpecBase : ClusterMultiNodeSpecBase
{
    public override IReadOnlyList<string> Roles => ["n1", "n2", "n3"];

    /// <summary>Restart before the old incarnation was removed (it must be replaced), or after.</summary>
    protected abstract bool RestartAtOnce { get; }

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        var cluster = Join(ctx, "n1", "n2");
        if (ctx.Role == "n3")
        {
            await Await(ctx, () => AllUp(cluster, 3), TimeSpan.FromSeconds(30), ctx.Incarnation == 1 ? "3 members Up" : "new incarnation Up");
            if (ctx.Incarnation > 1)
            {
                await ctx.EnterBarrier("rejoined");
                return;
            }
            await ctx.EnterBarrier("converged");
            await Task.Delay(System.Threading.Timeout.Infinite); // killed here
        }
        await Await(ctx, () => AllUp(cluster, 3), TimeSpan.FromSeconds(30), "3 members Up");
        await ctx.EnterBarrier("converged");
        var victim = ctx.AddressOf("n3");
        var oldUid = cluster.State.Members.Single(m => m.Address.Equals(victim)).UniqueAddress.Uid;
        var started = DateTime.UtcNow;
        await ctx.RunOn("n1", () => ctx.Kill("n3"));
        if (!RestartAtOnce)
        {
            await Await(ctx, () => cluster.State.Unreachable.Any(m => m.Address.Equals(victim)) || cluster.State.Members.All(m => !m.Address.Equals(victim)),
                TimeSpan.FromSeconds(15), "n3 unreachable");
            ctx.Log($"n3 unreachable after {(DateTime.UtcNow - started).TotalMilliseconds:0} ms");
            await Await(ctx, () => AllUp(cluster, 2), TimeSpan.FromSeconds(20), "n3 downed and removed");
            ctx.Log($"n3 removed after {(DateTime.UtcNow - started).TotalMilliseconds:0} ms");
            await ctx.EnterBarrier("removed");
        }
        // Restarted at once, the old incarnation is still a member when the new one asks to join.
        await ctx.RunOn("n1", () => ctx.Restart("n3"));
        await Await(ctx, () => AllUp(cluster, 3) && cluster.State.Members.Single(m => m.Address.Equals(victim)).UniqueAddress.Uid != oldUid,
            TimeSpan.FromSeconds(30), "the new incarnation of n3 Up");
        await ctx.EnterBarrier("rejoined");
    }
}

public sealed class ClusterKillRestartSpec : KillRestartSpecBase
{
    protected override bool RestartAtOnce => false;
}

public sealed class ClusterQuickRestartSpec : KillRestartSpecBase
{
    protected override bool RestartAtOnce => true;
}

public sealed class ClusterPartitionSpec : ClusterMultiNodeSpecBase
{
    private static readonly string[] Majority = ["n1", "n2", "n3"];
    private static readonly string[] Minority = ["n4", "n5"];

    public override IReadOnlyList<string> Roles => ["n1", "n2", "n3", "n4", "n5"];

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        var cluster = Join(ctx, "n1", "n2");
        if (ctx.Incarnation > 1)
        {
            await Await(ctx, () => AllUp(cluster, 5), TimeSpan.FromSeconds(30), "healed: 5 members Up");
            await ctx.EnterBarrier("healed");
            return;
        }
        await Await(ctx, () => AllUp(cluster, 5), TimeSpan.FromSeconds(30), "5 members Up");
        await ctx.EnterBarrier("converged");
        if (ctx.Role == "n1")
        {
            foreach (var a in Majority)
            {
                foreach (var b in Minority)
                    await ctx.Blackhole(a, b);
            }
        }
        await ctx.EnterBarrier("partitioned");
        if (Minority.Contains(ctx.Role))
        {
            await ctx.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
            var reason = CoordinatedShutdown.Get(ctx.System).Reason;
            ctx.Log($"minority node stopped: {reason?.Name}");
            if (reason != ShutdownReason.ClusterDowning)
                throw new TestKitException($"expected to be downed, stopped for {reason?.Name}");
            return;
        }
        await Await(ctx, () => AllUp(cluster, 3), TimeSpan.FromSeconds(30), "majority carries on with 3 members");
        await ctx.EnterBarrier("majority-alone");
        if (ctx.Role == "n1")
        {
            foreach (var a in Majority)
            {
                foreach (var b in Minority)
                    await ctx.PassThrough(a, b);
            }
            foreach (var b in Minority)
                await ctx.Restart(b);
        }
        await Await(ctx, () => AllUp(cluster, 5), TimeSpan.FromSeconds(30), "healed: 5 members Up");
        await ctx.EnterBarrier("healed");
    }
}
