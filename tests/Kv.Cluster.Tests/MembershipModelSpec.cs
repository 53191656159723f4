using Kv.Cluster.Actor;
using Kv.Cluster.Cluster;

namespace Kv.Cluster.Tests;

/// <summary>The pure parts of membership: vector clocks, gossip merge, convergence, leader, phi, split-brain decisions.</summary>
public sealed class MembershipModelSpec
{
    private static UniqueAddress Node(int port, ulong uid = 1) => new(new Address("kv", "127.0.0.1", port), uid);

    private static Member M(int port, MemberStatus status, int up = 0, ulong uid = 1) => new(Node(port, uid), status, [], up);

    [Fact]
    public void Vector_clocks_order_and_merge()
    {
        var a = VectorClock.Empty.Increment("a");
        var ab = a.Increment("b");
        var ac = a.Increment("c");
        Assert.Equal(VectorClockOrdering.Before, a.CompareTo(ab));
        Assert.Equal(VectorClockOrdering.After, ab.CompareTo(a));
        Assert.Equal(VectorClockOrdering.Concurrent, ab.CompareTo(ac));
        Assert.Equal(VectorClockOrdering.Same, ab.CompareTo(a.Increment("b")));
        var merged = ab.Merge(ac);
        Assert.Equal(VectorClockOrdering.After, merged.CompareTo(ab));
        Assert.Equal(VectorClockOrdering.After, merged.CompareTo(ac));
    }

    [Fact]
    public void Merge_keeps_the_highest_status_and_tombstones_keep_removed_members_out()
    {
        var self = Node(1);
        var g1 = Gossip.Empty.WithMember(M(1, MemberStatus.Up, 1)).WithMember(M(2, MemberStatus.Up, 2)).WithMember(M(3, MemberStatus.Up, 3)).Changed(self);
        var g2 = g1.WithMember(M(2, MemberStatus.Leaving, 2)).Changed(Node(2));
        var g3 = g1.WithMember(M(2, MemberStatus.Down, 2)).Remove(Node(3), 1000).Changed(Node(3));
        var merged = g2.Merge(g3);
        Assert.Equal(MemberStatus.Down, merged.Member(Node(2))!.Status);
        Assert.Null(merged.Member(Node(3)));
        Assert.True(merged.Tombstones.ContainsKey(Node(3)));
        // Merging with the stale gossip that still has node 3 does not bring it back.
        Assert.Null(merged.Merge(g1).Member(Node(3)));
        Assert.Equal(merged.Members.Count, g3.Merge(g2).Members.Count);
    }

    [Fact]
    public void Convergence_needs_every_reachable_Up_member_to_have_seen_and_unreachable_ones_down()
    {
        var self = Node(1);
        var g = Gossip.Empty.WithMember(M(1, MemberStatus.Up, 1)).WithMember(M(2, MemberStatus.Up, 2)).WithMember(M(3, MemberStatus.Joining)).Changed(self);
        Assert.False(g.Convergence(self));
        g = g.SeenBy(Node(2));
        Assert.True(g.Convergence(self)); // the joining member need not have seen
        var unreachable = g.With(reachability: g.Reachability.Unreachable(self, Node(2)));
        Assert.False(unreachable.Convergence(self));
        var downed = unreachable.WithMember(M(2, MemberStatus.Down, 2));
        Assert.True(downed.Convergence(self));
    }

    [Fact]
    public void The_leader_is_the_lowest_reachable_Up_member_or_the_lowest_reachable_one()
    {
        var g = Gossip.Empty.WithMember(M(1, MemberStatus.Joining)).WithMember(M(2, MemberStatus.Up, 1)).WithMember(M(3, MemberStatus.Up, 2));
        Assert.Equal(Node(2), g.Leader());
        var onlyJoining = Gossip.Empty.WithMember(M(3, MemberStatus.Joining)).WithMember(M(1, MemberStatus.Joining));
        Assert.Equal(Node(1), onlyJoining.Leader());
        var unreachable = g.With(reachability: g.Reachability.Unreachable(Node(3), Node(2)));
        Assert.Equal(Node(3), unreachable.Leader());
    }

    [Fact]
    public void Reachability_needs_every_observer_to_clear_its_flag()
    {
        var r = Reachability.Empty.Unreachable(Node(1), Node(3)).Unreachable(Node(2), Node(3));
        Assert.False(r.IsReachable(Node(3)));
        r = r.Reachable(Node(1), Node(3));
        Assert.False(r.IsReachable(Node(3)));
        r = r.Reachable(Node(2), Node(3));
        Assert.True(r.IsReachable(Node(3)));
        // A merge takes each observer's newer record.
        var older = Reachability.Empty.Unreachable(Node(1), Node(3));
        var newer = older.Reachable(Node(1), Node(3));
        Assert.True(older.Merge(newer).IsReachable(Node(3)));
        Assert.True(newer.Merge(older).IsReachable(Node(3)));
    }

    [Fact]
    public void Phi_grows_with_silence_and_crosses_8_a_few_seconds_after_the_last_heartbeat_with_default_timings()
    {
        long now = 0;
        var fd = new PhiAccrualFailureDetector(8, 1000, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1), () => now);
        Assert.Equal(0, fd.Phi());
        for (int i = 0; i < 20; i++)
        {
            fd.Heartbeat();
            now += 1000;
        }
        now -= 1000;
        Assert.True(fd.IsAvailable());
        double previous = 0;
        long crossed = -1;
        for (int ms = 0; ms <= 10_000; ms += 100)
        {
            now += 100;
            double phi = fd.Phi();
            Assert.True(phi >= previous);
            previous = phi;
            if (crossed < 0 && !fd.IsAvailable())
                crossed = ms + 100;
        }
        // The anchor: phi reaches 8 roughly 4.5-5.3 s after the last heartbeat.
        Assert.InRange(crossed, 4000, 5500);
        Assert.True(PhiAccrualFailureDetector.PhiOf(1000, 1000, 100) < 1);
    }

    [Fact]
    public void Split_brain_strategies_decide_as_documented()
    {
        Member[] side(params int[] ports) => ports.Select(p => M(p, MemberStatus.Up, p)).ToArray();
        IEnumerable<int> ports(IReadOnlyList<UniqueAddress> nodes) => nodes.Select(n => n.Address.Port!.Value).Order();

        Assert.Equal([4, 5], ports(SplitBrainDecision.Decide(DowningStrategy.KeepMajority, side(1, 2, 3), side(4, 5))));
        Assert.Equal([1, 2], ports(SplitBrainDecision.Decide(DowningStrategy.KeepMajority, side(1, 2), side(3, 4, 5))));
        // Even split: the side with the lowest address stays.
        Assert.Equal([3, 4], ports(SplitBrainDecision.Decide(DowningStrategy.KeepMajority, side(1, 2), side(3, 4))));
        Assert.Equal([3, 4], ports(SplitBrainDecision.Decide(DowningStrategy.KeepMajority, side(3, 4), side(1, 2))));
        // Joining members do not count.
        var withJoining = side(1).Append(M(9, MemberStatus.Joining)).Append(M(8, MemberStatus.Joining)).ToArray();
        Assert.Equal([1, 8, 9], ports(SplitBrainDecision.Decide(DowningStrategy.KeepMajority, withJoining, side(4, 5))));

        Assert.Equal([4, 5], ports(SplitBrainDecision.Decide(DowningStrategy.StaticQuorum, side(1, 2, 3), side(4, 5), staticQuorumSize: 3)));
        Assert.Equal([1, 2], ports(SplitBrainDecision.Decide(DowningStrategy.StaticQuorum, side(1, 2), side(3, 4, 5), staticQuorumSize: 3)));

        // Keep-oldest: port number doubles as up-number here, so 1 is the oldest.
        Assert.Equal([4, 5], ports(SplitBrainDecision.Decide(DowningStrategy.KeepOldest, side(1, 2), side(4, 5))));
        Assert.Equal([2, 3], ports(SplitBrainDecision.Decide(DowningStrategy.KeepOldest, side(2, 3), side(1, 4))));
        // The oldest alone is downed when down-if-alone is on.
        Assert.Equal([1], ports(SplitBrainDecision.Decide(DowningStrategy.KeepOldest, side(1), side(2, 3))));
        Assert.Equal([1], ports(SplitBrainDecision.Decide(DowningStrategy.KeepOldest, side(2, 3), side(1))));

        Assert.Equal([1, 2, 3, 4, 5], ports(SplitBrainDecision.Decide(DowningStrategy.DownAll, side(1, 2, 3), side(4, 5))));
        Assert.Empty(SplitBrainDecision.Decide(DowningStrategy.Off, side(1), side(2)));
    }

    [Fact]
    public void Gossip_survives_a_protobuf_round_trip()
    {
        var self = Node(1, 11);
        var g = Gossip.Empty.WithMember(M(1, MemberStatus.Up, 1, 11) with { Roles = ["storage"] }).WithMember(M(2, MemberStatus.Leaving, 2, 22)).Changed(self);
        g = g.With(reachability: g.Reachability.Unreachable(self, Node(2, 22))).Remove(Node(3, 33), 42).SeenBy(Node(2, 22));
        var back = GossipCodec.FromProto(GossipCodec.ToProto(g));
        Assert.Equal(g.Members.Values, back.Members.Values);
        Assert.Equal(["storage"], back.Member(self)!.Roles);
        Assert.Equal(VectorClockOrdering.Same, g.Version.CompareTo(back.Version));
        Assert.False(back.IsReachable(Node(2, 22)));
        Assert.True(back.Tombstones.ContainsKey(Node(3, 33)));
        Assert.True(back.Seen.SetEquals(g.Seen));
        var bad = GossipCodec.ToProto(g);
        bad.Members[0].Status = 99;
        Assert.Throws<FormatException>(() => GossipCodec.FromProto(bad));
    }
}
