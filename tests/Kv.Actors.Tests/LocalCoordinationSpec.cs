using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.TestKit;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>
/// Reads and writes whose replicas are all this node's vnodes run without a coordinator actor
/// (<see cref="LocalRead"/>, <see cref="LocalWrite"/>): the same rules as the coordinators, probes
/// standing in for the vnodes.
/// </summary>
public sealed class LocalCoordinationSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private static readonly byte[] Ns = "default"u8.ToArray();
    private static readonly byte[] Key = "k"u8.ToArray();

    private static Sibling V(string s, long at = 1) => new(Encoding.UTF8.GetBytes(s), "text/plain", at, false);

    private static DvvSet<Sibling> Stamped(string value, string vnode) => DvvSet<Sibling>.Create(DvvSet<Sibling>.New(V(value)), vnode);

    private static List<ReplicaRef> Refs(IEnumerable<IActorRef> vnodes) => vnodes.Select((v, i) => new ReplicaRef(i, "self", v)).ToList();

    private static NamespaceProps Props(int r = 2, int w = 2, int dw = 2, TimeSpan? timeout = null) =>
        new() { R = r, W = w, DW = dw, Timeout = timeout ?? TimeSpan.FromSeconds(5) };

    private TestProbe[] Probes(int n) => Enumerable.Range(0, n).Select(_ => CreateTestProbe()).ToArray();

    [Fact]
    public void A_read_answers_after_R_and_repairs_the_replica_that_missed_the_key()
    {
        var vnodes = Probes(3);
        LocalRead.Start(Sys, Ns, Key, Refs(vnodes.Select(v => v.Ref)), Props(r: 2), TestActor, 0, exists: false);
        var gets = vnodes.Select(v => v.ExpectMsg<VnodeGet>()).ToArray();
        Assert.All(gets, g => Assert.Equal(gets[0].RequestId, g.RequestId));
        var obj = Stamped("v", "r0");
        vnodes[0].Reply(new VnodeGetReply(0, gets[0].RequestId, obj, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // one of R = 2
        vnodes[1].Reply(new VnodeGetReply(1, gets[1].RequestId, obj, null));
        var found = ExpectMsg<GetSucceeded>();
        Assert.Equal("v", Encoding.UTF8.GetString(found.Object.Values.Single().Value));
        // The third had nothing: once it has said so, it gets the merge (read repair), and nothing more comes.
        vnodes[2].Reply(new VnodeGetReply(2, gets[2].RequestId, null, null));
        var repair = vnodes[2].ExpectMsg<VnodeApply>();
        Assert.True(repair.Object.SameAs(obj));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        vnodes[0].ExpectNoMsg(TimeSpan.Zero);
    }

    [Fact]
    public void A_read_that_misses_R_by_errors_fails_and_a_silent_one_times_out()
    {
        var vnodes = Probes(2);
        LocalRead.Start(Sys, Ns, Key, Refs(vnodes.Select(v => v.Ref)), Props(r: 2), TestActor, 0, exists: false);
        var get = vnodes[0].ExpectMsg<VnodeGet>();
        vnodes[0].Reply(new VnodeGetReply(0, get.RequestId, null, "disk on fire"));
        Assert.Contains("disk on fire", ExpectMsg<QuorumNotMet>().ToString(), StringComparison.Ordinal);

        var silent = Probes(1);
        LocalRead.Start(Sys, Ns, Key, Refs(silent.Select(v => v.Ref)), Props(r: 1, timeout: TimeSpan.FromMilliseconds(300)), TestActor, 0, exists: true);
        Assert.True(silent[0].ExpectMsg<VnodeGet>().Head);
        var timedOut = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(3));
        Assert.Contains("timed out", timedOut.ToString(), StringComparison.Ordinal);
        // A late answer after the timeout is ignored.
        silent[0].Reply(new VnodeGetReply(0, 1, null, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_read_s_temporary_ref_is_reachable_by_its_path_until_it_ends()
    {
        // A vnode that hands its partition off forwards the request with this sender, and the answer comes back by path.
        var vnodes = Probes(1);
        LocalRead.Start(Sys, Ns, Key, Refs(vnodes.Select(v => v.Ref)), Props(r: 1), TestActor, 0, exists: false);
        var get = vnodes[0].ExpectMsg<VnodeGet>();
        var path = vnodes[0].LastSender.Path;
        var resolved = ((ExtendedActorSystem)Sys).Provider.ResolveActorRef(path);
        Assert.Same(vnodes[0].LastSender, resolved);
        resolved.Tell(new VnodeGetReply(0, get.RequestId, null, null), ActorRefs.NoSender);
        Assert.IsType<NotFound>(ExpectMsg<object>());
        Assert.NotSame(vnodes[0].LastSender, ((ExtendedActorSystem)Sys).Provider.ResolveActorRef(path)); // unregistered
    }

    [Fact]
    public void A_write_answers_after_W_with_DW_durable_and_reports_a_deleted_key()
    {
        var vnodes = Probes(1);
        var router = CreateTestProbe();
        LocalWrite.Start(Sys, router.Ref, Ns, Key, VersionVector.Empty, Sibling.Tombstone(5), Refs(vnodes.Select(v => v.Ref)), Props(r: 1, w: 1, dw: 1), TestActor, false, 0);
        var coordinate = vnodes[0].ExpectMsg<VnodeCoordinatePut>();
        var stamped = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(Sibling.Tombstone(5)), "r0");
        vnodes[0].Reply(new VnodePutReply(0, coordinate.RequestId, stamped, Durable: false, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // W = 1 but DW = 1: not durable yet
        vnodes[0].Reply(new VnodePutReply(0, coordinate.RequestId, null, Durable: true, null));
        var ok = ExpectMsg<PutSucceeded>();
        Assert.Equal(1, ok.Acks);
        Assert.Equal(1, ok.DurableAcks);
        Assert.Equal(Key, router.ExpectMsg<TombstoneWritten>().Key);
    }

    [Fact]
    public void A_write_replicates_the_stamped_version_and_fails_when_DW_cannot_be_met()
    {
        var vnodes = Probes(2);
        var router = CreateTestProbe();
        LocalWrite.Start(Sys, router.Ref, Ns, Key, VersionVector.Empty, V("x"), Refs(vnodes.Select(v => v.Ref)), Props(w: 2, dw: 2), TestActor, false, 0);
        var coordinate = vnodes[0].ExpectMsg<VnodeCoordinatePut>();
        var stamped = Stamped("x", "r0");
        vnodes[0].Reply(new VnodePutReply(0, coordinate.RequestId, stamped, Durable: false, null));
        var apply = vnodes[1].ExpectMsg<VnodeApply>();
        Assert.True(apply.Durable);
        Assert.True(apply.Object.SameAs(stamped));
        vnodes[1].Reply(new VnodePutReply(1, apply.RequestId, null, Durable: true, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the coordinating vnode is not durable yet
        vnodes[0].Reply(new VnodePutReply(0, coordinate.RequestId, null, Durable: false, "fsync failed"));
        Assert.Contains("fsync failed", ExpectMsg<QuorumNotMet>().ToString(), StringComparison.Ordinal);
        router.ExpectNoMsg(TimeSpan.Zero);

        var silent = Probes(1);
        LocalWrite.Start(Sys, router.Ref, Ns, Key, VersionVector.Empty, V("y"), Refs(silent.Select(v => v.Ref)), Props(r: 1, w: 1, dw: 0, timeout: TimeSpan.FromMilliseconds(300)), TestActor, false, 0);
        silent[0].ExpectMsg<VnodeCoordinatePut>();
        Assert.Contains("timed out", ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(3)).ToString(), StringComparison.Ordinal);
    }
}
