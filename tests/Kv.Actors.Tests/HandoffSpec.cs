using System.Text;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.TestKit;
using Kv.Storage;
using Kv.Storage.Wal;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>
/// One partition handed off between two real vnodes on real storage, in one actor system: the old
/// owner under a stand-in for its vnode manager (grants slots, reports what it hears), the new owner
/// behind a stand-in for the target node's vnode manager that can lose the unacknowledged forwards.
/// </summary>
public sealed class HandoffSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private const string OldNode = "kv://old-owner";
    private static readonly byte[] Ns = "default"u8.ToArray();

    private static DvvSet<Sibling> Stamped(string value) =>
        DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(Encoding.UTF8.GetBytes(value), "text/plain", 1, false)), "r0");

    /// <summary>The old owner's vnode manager: grants every slot; tells the probe of progress and retirement; passes the rest to the vnode.</summary>
    private sealed class OldManager : ReceiveActor
    {
        public OldManager(Func<Props> vnode, IActorRef probe)
        {
            var child = Context.ActorOf(vnode(), KvPaths.VnodeName(0));
            Receive<RequestHandoffSlot>(_ => Sender.Tell(HandoffSlotGranted.Instance, Self));
            Receive<ReleaseHandoffSlot>(_ => { });
            Receive<HandoffProgress>(p => probe.Tell(p, Self));
            Receive<VnodeRetired>(r => probe.Tell(r, Self));
            ReceiveAny(m => child.Forward(m));
        }
    }

    /// <summary>The new owner's vnode manager (/user/kv-vnodes): loses every forwarded write, gives acknowledged batches to its vnode.</summary>
    private sealed class LossyNewManager : ReceiveActor
    {
        public LossyNewManager(Func<Props> vnode, IActorRef probe)
        {
            var child = Context.ActorOf(vnode(), KvPaths.VnodeName(0));
            Receive<HandoffBatch>(b => b.Seq == HandoffBatch.Forwarded, b => probe.Tell(b, Self));
            ReceiveAny(m => child.Forward(m));
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> with the old owner's vnode (under <see cref="OldManager"/>, as
    /// "old") and the new owner's (under <see cref="LossyNewManager"/>, at /user/kv-vnodes of this
    /// system, as "fresh"), both on real storage in a temporary directory; then stops both, in order.
    /// </summary>
    private async Task WithOldAndNewOwnerAsync(string name, Action<IActorRef> body,
        IActorRef? lostForwards = null, TimeSpan? groupWindow = null, IActorRef? events = null)
    {
        string dir = Directory.CreateTempSubdirectory("kv-handoff-" + name + "-").FullName;
        // A long group window keeps a durable write in flight (group commits sync at most that often).
        var env = groupWindow is { } window
            ? new StorageEnvironment(1 << 20, 64L << 20, commitLog: new CommitLog(Path.Combine(dir, "commitlog"), groupWindow: window))
            : new StorageEnvironment(1 << 20, 64L << 20);
        string newNode = ((ExtendedActorSystem)Sys).Provider.DefaultAddress.ToString();
        var options = new StorageOptions { Environment = env };
        var handoff = new HandoffOptions { RetryDelay = TimeSpan.FromMilliseconds(100), ForwardingGrace = TimeSpan.FromSeconds(30) };
        var lost = lostForwards ?? CreateTestProbe().Ref;
        var progress = events ?? CreateTestProbe().Ref;
        try
        {
            var old = Sys.ActorOf(Props.Create(() => new OldManager(
                () => Props.Create(() => new VnodeActor(0, Path.Combine(dir, "old"), options, OldNode, handoff)), progress)), "old-vnodes");
            var fresh = Sys.ActorOf(Props.Create(() => new LossyNewManager(
                () => Props.Create(() => new VnodeActor(0, Path.Combine(dir, "new"), options, newNode, handoff)), lost)), KvPaths.VnodeManager);
            body(old);
            Watch(old);
            Watch(fresh);
            Sys.Stop(old);
            ExpectTerminated(old);
            Sys.Stop(fresh);
            ExpectTerminated(fresh);
        }
        finally
        {
            await Sys.Terminate();
            env.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task The_old_owner_keeps_its_data_until_every_member_has_seen_the_switch()
    {
        string newNode = ((ExtendedActorSystem)Sys).Provider.DefaultAddress.ToString();
        const string Third = "kv://third";
        var events = CreateTestProbe();
        await WithOldAndNewOwnerAsync("seen", old =>
        {
            old.Tell(new VnodeApply(Ns, "before"u8.ToArray(), Stamped("b"), true, 1), TestActor);
            ExpectMsg<VnodePutReply>(r => r.RequestId == 1 && r.Durable, TimeSpan.FromSeconds(5));
            // Three members; the new owner takes the partition over.
            var claimed = new Ring.Ring(1, [OldNode, Third], [newNode, Third]);
            old.Tell(new Ring.RingChanged(claimed.WithSeen(OldNode)), TestActor);
            events.FishForMessage<HandoffProgress>(p => p.State == HandoffState.Done, TimeSpan.FromSeconds(10));
            var switched = claimed.CompleteTransfer(0, OldNode, newNode, "claimant")!;

            // The switch, seen by the old and new owners but not by the third member: the third still
            // routes to the old owner from its ring, so the old owner keeps its data and serves.
            old.Tell(new Ring.RingChanged(switched.WithSeen(OldNode).WithSeen(newNode)), TestActor);
            events.FishForMessage<HandoffProgress>(p => p.State == HandoffState.Done, TimeSpan.FromSeconds(10)); // the sweep
            events.ExpectNoMsg(TimeSpan.FromSeconds(1));
            old.Tell(new VnodeApply(Ns, "from-the-third"u8.ToArray(), Stamped("t"), true, 2), TestActor);
            ExpectMsg<VnodePutReply>(r => r.RequestId == 2 && r.Durable, TimeSpan.FromSeconds(5));
            old.Tell(new VnodeGet(Ns, "before"u8.ToArray(), 3), TestActor);
            Assert.True(ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5)).Found);

            // Once every member has seen it, the old owner sweeps what it took meanwhile and retires.
            old.Tell(new Ring.RingChanged(switched.WithSeen(OldNode).WithSeen(newNode).WithSeen(Third)), TestActor);
            events.FishForMessage<VnodeRetired>(_ => true, TimeSpan.FromSeconds(10));
            var newVnode = KvPaths.Vnode(Sys, newNode, 0);
            foreach (var key in new[] { "before", "from-the-third" })
            {
                newVnode.Tell(new VnodeGet(Ns, Encoding.UTF8.GetBytes(key), 4), TestActor);
                Assert.True(ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5)).Found, $"{key} is not on the new owner");
            }
        }, events: events.Ref);
    }

    [Fact]
    public async Task A_retiring_vnode_gets_writes_that_finished_after_its_last_sweep_acknowledged_by_the_new_owner()
    {
        string newNode = ((ExtendedActorSystem)Sys).Provider.DefaultAddress.ToString();
        var events = CreateTestProbe();
        var lost = CreateTestProbe();
        await WithOldAndNewOwnerAsync("retire", old =>
        {
            // Before the handoff: one key on the old owner.
            old.Tell(new VnodeApply(Ns, "before"u8.ToArray(), Stamped("b"), true, 1), TestActor);
            ExpectMsg<VnodePutReply>(r => r.RequestId == 1 && r.Durable, TimeSpan.FromSeconds(5));

            // The claim makes the new node the pending owner: the data is streamed (acknowledged).
            old.Tell(new Ring.RingChanged(new Ring.Ring(1, [OldNode], [newNode])), TestActor);
            events.FishForMessage<HandoffProgress>(p => p.State == HandoffState.Done, TimeSpan.FromSeconds(10));

            // A write whose commit waits for the next group fsync (up to a second)...
            old.Tell(new VnodeApply(Ns, "late"u8.ToArray(), Stamped("l"), true, 2), TestActor);
            // ...while the ring switches the owner: the sweep finds nothing dirty yet and ends first.
            old.Tell(new Ring.RingChanged(new Ring.Ring(2, [newNode], [newNode]).WithSeen(OldNode).WithSeen(newNode)), TestActor);
            ExpectMsg<VnodePutReply>(r => r.RequestId == 2 && r.Durable, TimeSpan.FromSeconds(5));
            lost.ExpectMsg<HandoffBatch>(TimeSpan.FromSeconds(5)); // the forward of the late write was lost
            events.FishForMessage<VnodeRetired>(_ => true, TimeSpan.FromSeconds(10));

            // Retired, its data deleted: every write it took is on the new owner.
            var newVnode = KvPaths.Vnode(Sys, newNode, 0);
            foreach (var key in new[] { "before", "late" })
            {
                newVnode.Tell(new VnodeGet(Ns, Encoding.UTF8.GetBytes(key), 3), TestActor);
                var read = ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5));
                Assert.True(read.Found, $"{key} is not on the new owner after the old one retired");
            }
        }, lostForwards: lost.Ref, groupWindow: TimeSpan.FromSeconds(1), events: events.Ref);
    }

    [Fact]
    public async Task Reaped_clocks_go_with_the_partition_so_the_new_owner_drops_a_pre_delete_copy_too()
    {
        string newNode = ((ExtendedActorSystem)Sys).Provider.DefaultAddress.ToString();
        var events = CreateTestProbe();
        await WithOldAndNewOwnerAsync("reaped", old =>
        {
            // On the old owner: a value, its delete, and the reap (which keeps the delete's clock).
            var before = Stamped("v");
            var tombstone = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(before.Join(), Sibling.Tombstone(2)), before, "r0");
            old.Tell(new VnodeApply(Ns, "gone"u8.ToArray(), tombstone, true, 1), TestActor);
            ExpectMsg<VnodePutReply>(r => r.RequestId == 1 && r.Durable, TimeSpan.FromSeconds(5));
            old.Tell(new VnodeReap(Ns, "gone"u8.ToArray(), tombstone), TestActor);
            old.Tell(new VnodeApply(Ns, "gone"u8.ToArray(), before, true, 2), TestActor); // a late repair there: dropped
            ExpectMsg<VnodePutReply>(r => r.RequestId == 2 && r.Durable, TimeSpan.FromSeconds(5));
            old.Tell(new VnodeGet(Ns, "gone"u8.ToArray(), 3), TestActor);
            Assert.False(ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5)).Found);

            // The partition moves to the new owner.
            old.Tell(new Ring.RingChanged(new Ring.Ring(1, [OldNode], [newNode])), TestActor);
            events.FishForMessage<HandoffProgress>(p => p.State == HandoffState.Done, TimeSpan.FromSeconds(10));

            // A pre-delete copy reaching the new owner (a late read repair, a node back with old data) is dropped there too.
            var newVnode = KvPaths.Vnode(Sys, newNode, 0);
            newVnode.Tell(new VnodeApply(Ns, "gone"u8.ToArray(), before, true, 4), TestActor);
            ExpectMsg<VnodePutReply>(r => r.RequestId == 4 && r.Durable, TimeSpan.FromSeconds(5));
            newVnode.Tell(new VnodeGet(Ns, "gone"u8.ToArray(), 5), TestActor);
            Assert.False(ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5)).Found, "the reaped value came back on the new owner");
            // A write the delete did not see is kept.
            var later = DvvSet<Sibling>.Sync(before, DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("n"u8.ToArray(), "text/plain", 3, false)), "elsewhere"));
            newVnode.Tell(new VnodeApply(Ns, "gone"u8.ToArray(), later, true, 6), TestActor);
            ExpectMsg<VnodePutReply>(r => r.RequestId == 6 && r.Durable, TimeSpan.FromSeconds(5));
            newVnode.Tell(new VnodeGet(Ns, "gone"u8.ToArray(), 7), TestActor);
            var kept = ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5));
            Assert.True(kept.Found);
            Assert.Equal(["n"], KvObjectCodec.Decode(kept.Stored!.Value.Span).Values.Select(v => Encoding.UTF8.GetString(v.Value)));
        }, events: events.Ref);
    }
}
