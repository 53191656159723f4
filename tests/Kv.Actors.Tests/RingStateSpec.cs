using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using Kv.Actors.Wire;

namespace Kv.Actors.Tests;

/// <summary>Ring transitions and the ring file (the wire form of the store's messages: KvSerializerSpec).</summary>
public sealed class RingStateSpec
{
    internal static readonly string[] Three = ["a", "b", "c"];

    [Fact]
    public void A_join_leaves_owners_until_transfers_complete_and_a_gone_node_switches_at_once()
    {
        var ring = Ring.Ring.Create(Three, 16);
        var alive = new HashSet<string>(["a", "b", "c", "d"]);
        var joined = ring.Reclaim(["a", "b", "c", "d"], alive, [], 4);
        Assert.Equal(ring.Owners, joined.Owners); // nothing moves before its handoff
        var transfers = joined.Transfers.ToList();
        Assert.Equal(4, joined.Pending.Count(o => o == "d")); // balanced: 16 / 4
        Assert.Equal(4, transfers.Count(t => t.To == "d"));
        var (p, from, to) = transfers[0];
        var moved = joined.CompleteTransfer(p, from, to)!;
        Assert.Equal(to, moved.Owners[p]);
        Assert.Equal(joined.Version + 1, moved.Version);
        Assert.Null(moved.CompleteTransfer(p, from, to)); // not pending any more

        // c dies (removed from the cluster): its partitions go to their new owners at once.
        alive.Remove("c");
        var without = moved.Reclaim(["a", "b", "d"], alive, [], 4);
        Assert.DoesNotContain("c", without.Owners);
        Assert.DoesNotContain("c", without.Pending);
    }

    [Fact]
    public void Partitions_taken_over_from_a_gone_node_are_lost_until_a_handoff_brings_them_and_the_ring_keeps_that()
    {
        var ring = Ring.Ring.Create(Three, 16);
        Assert.Empty(ring.Lost); // a new cluster: nothing to fill
        var alive = new HashSet<string>(["a", "b"]);
        var without = ring.Reclaim(["a", "b"], alive, [], 4);
        var fromC = Enumerable.Range(0, 16).Where(p => ring.Owners[p] == "c").ToList();
        Assert.Equal(fromC, without.Lost);
        Assert.NotEqual(new Ring.Ring(without.Version, without.Owners, without.Pending, without.Leaving), without); // part of the content
        Assert.Equal(without.Lost, without.WithLeaving("a").Lost);

        // c joins again: a handoff to it brings a lost partition's data along (as far as it goes).
        alive.Add("c");
        var rejoined = without.Reclaim(["a", "b", "c"], alive, [], 4);
        Assert.Equal(without.Lost, rejoined.Lost); // owners unchanged until the transfers complete
        var (p, from, to) = rejoined.Transfers.First(t => without.Lost.Contains(t.Partition));
        Assert.DoesNotContain(p, rejoined.CompleteTransfer(p, from, to)!.Lost);

        // Kept in the ring file and on the wire; a lost partition outside the ring is refused.
        string dir = Directory.CreateTempSubdirectory("kv-ring-lost-").FullName;
        try
        {
            RingFile.Write(Path.Combine(dir, "ring.bin"), without);
            var read = RingFile.Read(Path.Combine(dir, "ring.bin"))!;
            Assert.Equal(without, read);
            Assert.Equal(fromC, read.Lost);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        Assert.Throws<ArgumentException>(() => new Ring.Ring(1, without.Owners, null, null, [16]));
    }

    [Fact]
    public void A_lost_flag_travels_and_merges_with_its_owner_entry()
    {
        var ring = Ring.Ring.Create(Three, 16, claimant: "a");
        var alive = new HashSet<string>(["a", "b"]);
        // Claimant a takes c's partitions over (lost); claimant b, from the same ring, marks a leaving.
        var reclaimed = ring.Reclaim(["a", "b"], alive, [], 4, "a");
        var concurrent = ring.WithLeaving("a", "b");
        var merged = Ring.Ring.Merge(reclaimed, concurrent);
        Assert.Equal(merged, Ring.Ring.Merge(concurrent, reclaimed));
        Assert.Equal(reclaimed.Lost, merged.Lost); // the reclaim's owner entries win, their flags with them
        Assert.Contains("a", merged.Leaving);      // and the concurrent mark survives too
        // A completed transfer of a lost partition (a newer owner entry) clears the flag in any merge.
        alive.Add("c");
        var rejoined = merged.Reclaim(["a", "b", "c"], alive, [], 4, "a");
        var (p, from, to) = rejoined.Transfers.First(t => merged.Lost.Contains(t.Partition));
        var done = rejoined.CompleteTransfer(p, from, to, "a")!;
        Assert.DoesNotContain(p, Ring.Ring.Merge(done, merged).Lost);
        Assert.DoesNotContain(p, Ring.Ring.Merge(merged, done).Lost);
        // And it crosses the wire with its stamps.
        Assert.Equal(merged.Lost, KvSerializers.FromWire(KvSerializers.ToWire(merged)).Lost);
    }

    [Fact]
    public void A_leaving_node_stays_out_of_the_claim_until_it_has_left_the_cluster()
    {
        var ring = Ring.Ring.Create(Three, 16).WithLeaving("c");
        var alive = new HashSet<string>(Three);
        var next = ring.Reclaim(["a", "b"], alive, ring.Leaving, 4);
        Assert.Equal(["c"], next.Leaving);
        foreach (var (p, from, to) in next.Transfers.ToList())
            next = next.CompleteTransfer(p, from, to)!;
        Assert.True(next.Settled);
        Assert.DoesNotContain("c", next.Owners);
        Assert.Equal(["c"], next.Leaving); // still remembered while c is in the cluster
        alive.Remove("c");
        Assert.Empty(next.Reclaim(["a", "b"], alive, next.Leaving, 4).Leaving);
    }

    [Fact]
    public void Rings_of_the_same_version_are_ordered_the_same_way_everywhere()
    {
        var x = new Ring.Ring(5, Enumerable.Repeat("a", 8).ToList());
        var y = new Ring.Ring(5, Enumerable.Repeat("b", 8).ToList());
        Assert.True(x.Supersedes(y) ^ y.Supersedes(x));
        Assert.True(new Ring.Ring(6, x.Owners).Supersedes(y));
        Assert.False(x.Supersedes(x));
    }

    [Fact]
    public void The_ring_file_round_trips_and_damage_is_reported()
    {
        string dir = Directory.CreateTempSubdirectory("kv-ring-").FullName;
        try
        {
            string path = Path.Combine(dir, "ring.bin");
            var ring = Ring.Ring.Create(Three, 32).WithLeaving("c");
            RingFile.Write(path, ring);
            Assert.Equal(ring, RingFile.Read(path));
            var bytes = File.ReadAllBytes(path);
            bytes[20] ^= 0x40;
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<InvalidDataException>(() => RingFile.Read(path));
            Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
            File.WriteAllBytes(path, bytes[..10]);
            Assert.Throws<InvalidDataException>(() => RingFile.Read(path));
            Assert.Null(RingFile.Read(Path.Combine(dir, "none.bin")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
