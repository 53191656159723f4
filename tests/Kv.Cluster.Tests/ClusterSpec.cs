using Kv.Cluster.Actor;
using Kv.Cluster.Cluster;
using Kv.Cluster.Remote;
using Kv.Cluster.TestKit;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using ClusterExt = Kv.Cluster.Cluster.Cluster;

namespace Kv.Cluster.Tests;

/// <summary>In-process clusters of several systems on loopback, with short timings.</summary>
public sealed class ClusterSpec(ITestOutputHelper output) : TestKit.TestKit(output)
{
    internal static ClusterOptions Fast(params string[] seeds) => TestKit.TestKit.FastCluster(seeds);

    private (ActorSystem System, ClusterExt Cluster) Node(int port, ClusterOptions options)
    {
        var system = CreateSystem("kv", new ActorSystemOptions { Remote = TestKit.TestKit.FastRemote(port), Cluster = options });
        return (system, ClusterExt.Get(system));
    }

    private List<(ActorSystem System, ClusterExt Cluster)> StartCluster(int n)
    {
        var ports = Enumerable.Range(0, n).Select(_ => TestKit.TestKit.FreePort()).ToList();
        var seeds = ports.Take(2).Select(p => $"kv://kv@127.0.0.1:{p}").ToArray();
        var nodes = ports.Select(p => Node(p, Fast(seeds))).ToList();
        AwaitCondition(() => nodes.All(x => x.Cluster.State.Members.Count == n && x.Cluster.State.Members.All(m => m.Status == MemberStatus.Up) && x.Cluster.State.Convergence),
            TimeSpan.FromSeconds(20), "all members Up everywhere");
        return nodes;
    }

    [Fact]
    public void Nodes_join_through_seeds_converge_and_agree_on_the_leader()
    {
        var nodes = StartCluster(3);
        var leaders = nodes.Select(n => n.Cluster.State.Leader).Distinct().ToList();
        Assert.Single(leaders);
        Assert.Equal(nodes.Select(n => n.System.Address).Min(), leaders[0]);
        Assert.All(nodes, n => Assert.Equal(MemberStatus.Up, n.Cluster.SelfMember!.Status));
        var up = new List<int>();
        foreach (var n in nodes)
            n.Cluster.RegisterOnMemberUp(() => { lock (up) up.Add(1); });
        Assert.Equal(3, up.Count);
    }

    [Fact]
    public async Task A_member_leaves_gracefully_and_is_removed_everywhere()
    {
        var nodes = StartCluster(3);
        var probe = CreateTestProbe(nodes[0].System);
        nodes[0].Cluster.Subscribe(probe.Ref, false, typeof(MemberEvent));
        probe.ExpectMsg<CurrentClusterState>();
        var leaver = nodes[2];
        var removed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        leaver.Cluster.RegisterOnMemberRemoved(() => removed.TrySetResult());
        Assert.False(removed.Task.IsCompleted);
        await CoordinatedShutdown.Get(leaver.System).Run(ShutdownReason.ClusterLeaving).WaitAsync(TimeSpan.FromSeconds(20));
        await removed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(ShutdownReason.ClusterLeaving, CoordinatedShutdown.Get(leaver.System).Reason);
        probe.FishForMessage<MemberLeft>(e => e.Member.Address.Equals(leaver.System.Address), TimeSpan.FromSeconds(10));
        probe.FishForMessage<MemberRemoved>(e => e.Member.Address.Equals(leaver.System.Address), TimeSpan.FromSeconds(10));
        AwaitCondition(() => nodes.Take(2).All(n => n.Cluster.State.Members.Count == 2 && n.Cluster.State.Convergence), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_isolated_node_is_downed_by_the_majority_and_downs_itself()
    {
        var nodes = StartCluster(3);
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        var probe = CreateTestProbe(a.System);
        a.Cluster.Subscribe(probe.Ref, false, typeof(UnreachableMember), typeof(MemberRemoved));
        probe.ExpectMsg<CurrentClusterState>();
        foreach (var other in new[] { a, b })
        {
            other.System.Transport!.Rules.Set(c.System.Address, FaultRule.Blackhole);
            c.System.Transport!.Rules.Set(other.System.Address, FaultRule.Blackhole);
        }
        probe.FishForMessage<UnreachableMember>(e => e.Member.Address.Equals(c.System.Address), TimeSpan.FromSeconds(10));
        probe.FishForMessage<MemberRemoved>(e => e.Member.Address.Equals(c.System.Address), TimeSpan.FromSeconds(15));
        await c.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(15)); // the minority node shut itself down
        Assert.Equal(ShutdownReason.ClusterDowning, CoordinatedShutdown.Get(c.System).Reason);
        AwaitCondition(() => a.Cluster.State.Members.Count == 2 && b.Cluster.State.Members.Count == 2 && a.Cluster.State.Convergence, TimeSpan.FromSeconds(10));
        Assert.False(a.System.IsTerminating);
        Assert.False(b.System.IsTerminating);
    }

    [Fact]
    public async Task Manual_down_removes_a_member_and_stops_it()
    {
        var nodes = StartCluster(3);
        nodes[0].Cluster.Down(nodes[2].System.Address);
        await nodes[2].System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(ShutdownReason.ClusterDowning, CoordinatedShutdown.Get(nodes[2].System).Reason);
        AwaitCondition(() => nodes[0].Cluster.State.Members.Count == 2 && nodes[1].Cluster.State.Members.Count == 2, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_joining_node_with_the_address_of_a_live_member_is_refused()
    {
        var nodes = StartCluster(2);
        using var logs = new LogCapture(nodes[0].System);
        // A fake Join carrying member 2's address with another uid.
        var core = nodes[1].System.ResolveActorRef(ActorPath.Parse(nodes[0].System.Address + "/system/cluster"));
        var join = new Kv.Cluster.Cluster.Protos.JoinData
        {
            Node = new Kv.Cluster.Cluster.Protos.UniqueAddressData { System = "kv", Host = "127.0.0.1", Port = (uint)nodes[1].System.Address.Port!.Value, Uid = 12345 },
            Cluster = "kv",
        };
        core.Tell(join, null);
        logs.Expect(LogLevel.Warning, "refused join of", TimeSpan.FromSeconds(5));
        Assert.Equal(2, nodes[0].Cluster.State.Members.Count);
        var wrongCluster = join.Clone();
        wrongCluster.Cluster = "other";
        wrongCluster.Node.Uid = 777;
        wrongCluster.Node.Port = 1;
        core.Tell(wrongCluster, null);
        logs.Expect(LogLevel.Warning, "this is cluster 'kv', not 'other'", TimeSpan.FromSeconds(5));
        Thread.Sleep(500);
        Assert.Equal(2, nodes[0].Cluster.State.Members.Count);
        Assert.All(nodes[0].Cluster.State.Members, m => Assert.Equal(MemberStatus.Up, m.Status));
    }

    [Fact]
    public void Malformed_stale_and_foreign_gossip_is_refused_without_touching_the_state()
    {
        var nodes = StartCluster(2);
        var (a, b) = (nodes[0], nodes[1]);
        using var logs = new LogCapture(a.System);
        var core = b.System.ResolveActorRef(ActorPath.Parse(a.System.Address + "/system/cluster"));
        var from = GossipCodec.ToProto(b.Cluster.SelfUniqueAddress);
        var to = GossipCodec.ToProto(a.Cluster.SelfUniqueAddress);
        var before = a.Cluster.State;

        // Malformed: an unknown member status.
        var gossip = new Kv.Cluster.Cluster.Protos.GossipData();
        gossip.Members.Add(new Kv.Cluster.Cluster.Protos.MemberData { Node = from, Status = 99 });
        core.Tell(new Kv.Cluster.Cluster.Protos.GossipEnvelopeData { From = from, To = to, Gossip = gossip }, null);
        logs.Expect(LogLevel.Warning, "ignoring malformed gossip", TimeSpan.FromSeconds(5));

        // Stale: an empty version (older than anything) that would mark A down if it were applied.
        var stale = new Kv.Cluster.Cluster.Protos.GossipData();
        stale.Members.Add(new Kv.Cluster.Cluster.Protos.MemberData { Node = from, Status = (uint)MemberStatus.Up, UpNumber = 1 });
        stale.Members.Add(new Kv.Cluster.Cluster.Protos.MemberData { Node = to, Status = (uint)MemberStatus.Down, UpNumber = 2 });
        core.Tell(new Kv.Cluster.Cluster.Protos.GossipEnvelopeData { From = from, To = to, Gossip = stale }, null);

        // Foreign: from a node of another cluster.
        var foreign = from.Clone();
        foreign.System = "other";
        core.Tell(new Kv.Cluster.Cluster.Protos.GossipEnvelopeData { From = foreign, To = to, Gossip = GossipCodec.ToProto(Gossip.Empty) }, null);
        logs.Expect(LogLevel.Warning, "it belongs to cluster 'other'", TimeSpan.FromSeconds(5));

        Thread.Sleep(1000);
        Assert.Equal(MemberStatus.Up, a.Cluster.SelfMember!.Status);
        Assert.False(a.System.IsTerminating);
        Assert.Equal(before.Members.Select(m => (m.UniqueAddress, m.Status)), a.Cluster.State.Members.Select(m => (m.UniqueAddress, m.Status)));
    }
}
