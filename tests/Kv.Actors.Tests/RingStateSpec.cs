using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using Kv.Actors.Wire;
using Kv.Cluster.Actor;
using Kv.Cluster.Remote.Serialization;
using System.Buffers;

namespace Kv.Actors.Tests;

/// <summary>Ring transitions, the ring file, and the wire form of the store's messages.</summary>
public sealed class RingStateSpec
{
    private static readonly string[] Three = ["a", "b", "c"];

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

    private sealed class NoRefs : ISerializationContext
    {
        public string ToWire(IActorRef? actorRef) => "";

        public IActorRef? FromWire(string path) => null;
    }

    private static object RoundTrip(SerializationRegistry registry, object message)
    {
        Assert.True(registry.TryGet(message.GetType(), out var binding), message.GetType().Name + " is registered");
        var buffer = new ArrayBufferWriter<byte>();
        binding.Write(message, buffer, new NoRefs());
        return binding.Read(buffer.WrittenMemory, new NoRefs());
    }

    [Fact]
    public void Every_store_message_crosses_the_wire_intact_and_garbage_is_refused()
    {
        var registry = new SerializationRegistry();
        KvSerializers.Register(registry);
        KvSerializers.Register(registry); // idempotent
        byte[] ns = "default"u8.ToArray(), key = "k"u8.ToArray();
        var sibling = new Sibling(Encoding.UTF8.GetBytes("v"), "text/plain", 42, false);
        var obj = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(sibling), "vn1");
        var ctx = VersionVector.Of(("vn1", 3), ("vn2", 1));
        var options = new RequestOptions { R = 3, DW = 0, PR = 1, Timeout = TimeSpan.FromMilliseconds(1500), NotFoundOk = false, ReturnBody = true };

        var put = (VnodeCoordinatePut)RoundTrip(registry, new VnodeCoordinatePut(ns, key, ctx, sibling, 7, 50, 10, true));
        Assert.Equal((ctx, 7L, 50, 10, true), (put.Context, put.RequestId, put.MaxSiblings, put.WarnSiblings, put.LastWriteWins));
        Assert.Equal(sibling, put.Value);
        var apply = (VnodeApply)RoundTrip(registry, new VnodeApply(ns, key, obj, true, VnodeApply.NoReply));
        Assert.True(apply.Object.SameAs(obj));
        // The encoding an object came in is kept with it (a replica stores it as it is) ...
        Assert.Equal(KvObjectCodec.Encode(obj), apply.Encoded!.Value.ToArray());
        // ... and an encoding at hand is what goes out: these bytes decode to another object, and
        // arrive as they were sent, not re-encoded from the object.
        var other = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("w"u8.ToArray(), "", 1, false)), "vn2");
        var carried = (VnodeApply)RoundTrip(registry, new VnodeApply(ns, key, obj, true, 5) { Encoded = KvObjectCodec.Encode(other) });
        Assert.True(carried.Object.SameAs(other));
        var stamped = (VnodePutReply)RoundTrip(registry, new VnodePutReply(3, 9, obj, false, null) { Encoded = KvObjectCodec.Encode(obj) });
        Assert.True(stamped.Object!.SameAs(obj));
        Assert.Equal(KvObjectCodec.Encode(obj), stamped.Encoded!.Value.ToArray());
        Assert.Null(((VnodePutReply)RoundTrip(registry, new VnodePutReply(3, 9, null, true, null))).Encoded);
        var notFound = (VnodeGetReply)RoundTrip(registry, new VnodeGetReply(3, 9, null, null));
        Assert.Null(notFound.Object);
        Assert.False(notFound.Found); // no bytes is "not found", not an empty object
        Assert.True(((VnodeGetReply)RoundTrip(registry, new VnodeGetReply(3, 9, obj, null))).Object!.SameAs(obj));
        // A vnode's reply carries the stored bytes it read and they go out as they are.
        var fromStore = (VnodeGetReply)RoundTrip(registry, new VnodeGetReply(3, 9, obj, null) { Stored = KvObjectCodec.Encode(obj) });
        Assert.True(fromStore.Object!.SameAs(obj));
        Assert.False(fromStore.Unsynced);
        Assert.True(((VnodeGetReply)RoundTrip(registry, new VnodeGetReply(3, 9, null, null) { Unsynced = true })).Unsynced);
        Assert.Equal(new FillRequest(5, 6, "kv://kv@h:1"), RoundTrip(registry, new FillRequest(5, 6, "kv://kv@h:1")));
        Assert.Equal(new FillDone(5, 6), RoundTrip(registry, new FillDone(5, 6)));
        Assert.Equal("disk", ((VnodePutReply)RoundTrip(registry, new VnodePutReply(3, 9, null, false, "disk"))).Error);
        var batch = (HandoffBatch)RoundTrip(registry, new HandoffBatch(4, 2, [(key, KvObjectCodec.Encode(obj))], "kv://kv@h:1"));
        Assert.Equal((4, 2L, "kv://kv@h:1"), (batch.Partition, batch.Seq, batch.From));
        Assert.Equal(key, batch.Items[0].Key);
        var ring = Ring.Ring.Create(Three, 8).WithLeaving("b");
        Assert.Equal(ring, ((RingGossip)RoundTrip(registry, new RingGossip(ring))).Ring);
        var lost = ring.Reclaim(["a", "b"], new HashSet<string>(["a", "b"]), [], 4);
        Assert.Equal(lost.Lost, ((RingGossip)RoundTrip(registry, new RingGossip(lost))).Ring.Lost);
        var kvPut = (KvPut)RoundTrip(registry, new KvPut(ns, key, sibling, ctx, options with { Hops = 1 }));
        Assert.Equal(options with { Hops = 1 }, kvPut.Options);
        Assert.Equal(RequestOptions.None, ((KvGet)RoundTrip(registry, new KvGet(ns, key, RequestOptions.None))).Options);
        Assert.Equal(ctx, ((KvDelete)RoundTrip(registry, new KvDelete(ns, key, ctx, options))).Context);
        var failed = new QuorumNotMet("put", 2, 3, 1, 2, "timed out");
        Assert.Equal(failed, RoundTrip(registry, failed));
        Assert.Equal(new RequestFailed("no ring"), RoundTrip(registry, new RequestFailed("no ring")));
        Assert.Equal(ctx, ((NotFound)RoundTrip(registry, new NotFound(ctx))).Context);
        Assert.True(((GetSucceeded)RoundTrip(registry, new GetSucceeded(obj))).Object.SameAs(obj));

        // A stored-object field that is not an object, or a bad causal context, is refused, not half-read.
        Assert.True(registry.TryGet(typeof(VnodeApply), out var binding));
        var garbage = new Protos.VnodeApplyData { Ns = Google.Protobuf.ByteString.CopyFromUtf8("d"), Object = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) };
        Assert.ThrowsAny<Exception>(() => binding.Read(Google.Protobuf.MessageExtensions.ToByteArray(garbage), new NoRefs()));
        Assert.True(registry.TryGet(typeof(NotFound), out var nf));
        var badContext = new Protos.NotFoundData { Context = { new Protos.VvEntry { Id = "x", Counter = 0 } } };
        Assert.Throws<FormatException>(() => nf.Read(Google.Protobuf.MessageExtensions.ToByteArray(badContext), new NoRefs()));
    }
}
