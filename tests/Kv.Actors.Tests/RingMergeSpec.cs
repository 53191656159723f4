using FsCheck;
using FsCheck.Fluent;
using Kv.Actors.Protos;
using Kv.Actors.Wire;

namespace Kv.Actors.Tests;

/// <summary>Ring merges: a lattice (every node merging the same rings gets the same ring), and concurrent claims are not lost.</summary>
public sealed class RingMergeSpec
{
    private static readonly string[] Nodes = ["a", "b", "c", "d", "e"];

    private static Ring.Ring Merge(Ring.Ring x, Ring.Ring y) => Ring.Ring.Merge(x, y);

    /// <summary>
    /// Three claimants working on their own copies of one ring: claims over node sets, completed
    /// transfers, leave marks set and taken off, adoptions (seen), and merges of each other's copies.
    /// </summary>
    private static Ring.Ring[] Simulate(IEnumerable<(int Who, int Op, int Arg)> ops)
    {
        var rings = Enumerable.Repeat(Ring.Ring.Create(["a", "b", "c"], 8, 3, "c0"), 3).ToArray();
        foreach (var (who, op, arg) in ops)
        {
            var r = rings[who];
            string claimant = "c" + who;
            rings[who] = op switch
            {
                0 => r.Reclaim(Nodes.Where((_, i) => ((arg + 1) & (1 << i)) != 0).DefaultIfEmpty("a").ToList(),
                    Nodes.ToHashSet(), r.Leaving, 3, claimant),
                1 => r.Transfers.Skip(arg % Math.Max(1, r.Transfers.Count())).Select(t => r.CompleteTransfer(t.Partition, t.From, t.To, claimant)).FirstOrDefault() ?? r,
                2 => r.WithLeaving(Nodes[arg % Nodes.Length], claimant),
                3 => r.WithoutLeaving(Nodes[arg % Nodes.Length], claimant),
                4 => r.WithSeen(Nodes[arg % Nodes.Length]),
                _ => Merge(r, rings[arg % 3]),
            };
        }
        return rings;
    }

    private static Arbitrary<Ring.Ring[]> Histories()
    {
        var op = Gen.Choose(0, 2).SelectMany(who => Gen.Choose(0, 5).SelectMany(o => Gen.Choose(0, 30).Select(arg => (who, o, arg))));
        return Arb.From(op.ListOf().Select(ops => Simulate(ops)));
    }

    [Fact]
    public void Merge_is_commutative_associative_and_idempotent()
    {
        Prop.ForAll(Histories(), r =>
            Merge(r[0], r[1]).Equals(Merge(r[1], r[0]))
            && Merge(Merge(r[0], r[1]), r[2]).Equals(Merge(r[0], Merge(r[1], r[2])))
            && Merge(r[0], r[0]).Equals(r[0])
            && Merge(Merge(r[0], r[1]), r[1]).Equals(Merge(r[0], r[1]))
            && Merge(r[0], r[1]).Descends(r[0]) && Merge(r[0], r[1]).Descends(r[1])
            && Merge(r[0], r[1]).Version == Math.Max(r[0].Version, r[1].Version)).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Two_claims_made_on_the_same_version_by_different_claimants_both_survive_the_merge()
    {
        // Every change one claimant made from the common ring is in the merge, unless the other
        // changed the same entry; then the higher stamp wins, whichever node merges.
        Prop.ForAll(Histories(), Gen.Choose(0, 30).ToArbitrary(), (r, arg) =>
        {
            var start = r[0];
            var byA = start.Reclaim(Nodes.Where((_, i) => ((arg + 3) & (1 << i)) != 0).DefaultIfEmpty("b").ToList(), Nodes.ToHashSet(), start.Leaving, 3, "claimant-a");
            var transfer = start.Transfers.FirstOrDefault();
            var byB = transfer == default ? start.WithLeaving("e", "claimant-b") : start.CompleteTransfer(transfer.Partition, transfer.From, transfer.To, "claimant-b")!;
            Assert.Equal(byA.Version, byB.Version); // the same version, made twice
            var merged = Merge(byA, byB);
            Assert.True(merged.Equals(Merge(byB, byA)));
            for (int p = 0; p < start.Size; p++)
            {
                bool aOwner = byA.Owners[p] != start.Owners[p] || !byA.OwnerStamps[p].Equals(start.OwnerStamps[p]);
                bool bOwner = byB.Owners[p] != start.Owners[p] || !byB.OwnerStamps[p].Equals(start.OwnerStamps[p]);
                if (aOwner && !bOwner)
                    Assert.Equal(byA.Owners[p], merged.Owners[p]);
                if (bOwner && !aOwner)
                    Assert.Equal(byB.Owners[p], merged.Owners[p]);
                if (byA.Pending[p] != start.Pending[p] && byB.Pending[p] == start.Pending[p])
                    Assert.Equal(byA.Pending[p], merged.Pending[p]);
                if (byB.Pending[p] != start.Pending[p] && byA.Pending[p] == start.Pending[p])
                    Assert.Equal(byB.Pending[p], merged.Pending[p]);
            }
            foreach (var node in byB.Leaving.Except(start.Leaving))
                Assert.Contains(node, merged.Leaving);
            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_completed_transfer_and_a_concurrent_claim_from_a_stale_ring_both_survive()
    {
        var alive = new HashSet<string>(Nodes);
        var start = Ring.Ring.Create(["a", "b", "c"], 16, 3, "a").Reclaim(["a", "b", "c", "d"], alive, [], 3, "a");
        var (p, from, to) = start.Transfers.First();
        var done = start.CompleteTransfer(p, from, to, "a")!; // the old leader completes a transfer...
        var claim = start.Reclaim(["a", "b", "c", "d", "e"], alive, [], 3, "b"); // ...a new one, on the stale ring, claims e in
        Assert.Equal(done.Version, claim.Version);
        var merged = Merge(done, claim);
        Assert.Equal(to, merged.Owners[p]); // the switch is not undone (with one version number, one of the two rings was dropped)
        Assert.Contains("e", merged.Members); // and the claim is kept
        Assert.Equal(claim.Pending, merged.Pending);
        Assert.True(merged.Supersedes(done) && merged.Supersedes(claim));
    }

    [Fact]
    public void An_owner_switch_is_seen_by_all_once_every_member_adopted_a_ring_holding_it()
    {
        var ring = Ring.Ring.Create(["a", "b"], 8, 2, "a").Reclaim(["a", "b", "c"], new HashSet<string>(Nodes), [], 2, "a");
        var (p, from, to) = ring.Transfers.First();
        var switched = ring.CompleteTransfer(p, from, to, "a")!.WithSeen("a");
        Assert.False(switched.OwnerSeenByAll(p));
        var atB = Merge(ring.WithSeen("b"), switched).WithSeen("b");
        var atC = Merge(ring.WithSeen("c"), atB).WithSeen("c");
        Assert.False(Merge(switched, atB).OwnerSeenByAll(p)); // c has not seen it yet
        Assert.True(Merge(switched, atC).OwnerSeenByAll(p));
        Assert.False(Merge(switched, ring.WithSeen("b").WithSeen("c")).OwnerSeenByAll(p)); // having seen an older ring is not enough
    }

    [Fact]
    public void Rings_stored_before_stamps_are_read_with_every_entry_at_their_version()
    {
        var old = new RingData { Version = 7, Owners = { "a", "b", "a", "b" }, Next = { "a", "b", "c", "b" }, Leaving = { "b" } };
        var ring = KvSerializers.FromWire(old);
        Assert.Equal(7, ring.Version);
        Assert.Equal(["b"], ring.Leaving);
        Assert.All(ring.OwnerStamps.Concat(ring.PendingStamps), s => Assert.Equal(new Ring.Stamp(7, ""), s));
        var next = ring.CompleteTransfer(2, "a", "c", "x")!.WithSeen("x");
        Assert.Equal(next, KvSerializers.FromWire(KvSerializers.ToWire(next)));
        Assert.Equal(8, next.Version);
        Assert.Throws<FormatException>(() => KvSerializers.FromWire(new RingData
        {
            Owners = { "a", "b" }, Next = { "a", "b" }, OwnerStamps = { new StampData { Counter = 1 } }, NextStamps = { new StampData(), new StampData() },
        }));
    }
}
