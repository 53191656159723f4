using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.TestKit;
using Kv.Storage;
using Kv.Storage.IO;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>Coordinators against probes standing in for replicas (exact control of who answers what), and vnodes on real storage.</summary>
public sealed class CoordinatorSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private static readonly byte[] Ns = "default"u8.ToArray();
    private static readonly byte[] Key = "k"u8.ToArray();

    private static Sibling V(string s) => new(Encoding.UTF8.GetBytes(s), "text/plain", 1, false);

    private static DvvSet<Sibling> Stamped(string value, string vnode) => DvvSet<Sibling>.Create(DvvSet<Sibling>.New(V(value)), vnode);

    private static List<ReplicaRef> Refs(IEnumerable<IActorRef> vnodes) => vnodes.Select((v, i) => new ReplicaRef(i, "node" + i, v)).ToList();

    private static NamespaceProps Props3(int r = 2, int w = 2, int dw = 2, bool notFoundOk = true, bool basicQuorum = false, TimeSpan? timeout = null, int maxSiblings = 100) =>
        new() { R = r, W = w, DW = dw, NotFoundOk = notFoundOk, BasicQuorum = basicQuorum, Timeout = timeout ?? TimeSpan.FromSeconds(5), SiblingsMax = maxSiblings, SiblingsWarn = Math.Min(25, maxSiblings) };

    private (IActorRef Coordinator, TestProbe[] Replicas) Put(int n, int w, int dw, TimeSpan timeout)
    {
        var replicas = Enumerable.Range(0, n).Select(_ => CreateTestProbe()).ToArray();
        var props = Props3(w: w, dw: dw, timeout: timeout);
        var refs = Refs(replicas.Select(r => r.Ref));
        var coordinator = Sys.ActorOf(Props.Create(() => new PutCoordinator(Ns, Key, VersionVector.Empty, V("x"), refs, props, TestActor, false)));
        return (coordinator, replicas);
    }

    [Fact]
    public void A_put_succeeds_after_W_acks_with_DW_durable()
    {
        var (_, replicas) = Put(3, 2, 2, TimeSpan.FromSeconds(5));
        var coordinate = replicas[0].ExpectMsg<VnodeCoordinatePut>();
        var stored = Stamped("x", "r0");
        replicas[0].Reply(new VnodePutReply(0, coordinate.RequestId, stored, true, null));
        var apply1 = replicas[1].ExpectMsg<VnodeApply>();
        replicas[2].ExpectMsg<VnodeApply>();
        Assert.True(apply1.Durable);
        Assert.True(apply1.Object.SameAs(stored));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // one ack is not a quorum
        replicas[1].Reply(new VnodePutReply(1, apply1.RequestId, null, true, null)); // replicas acknowledge without the object
        var ok = ExpectMsg<PutSucceeded>();
        Assert.Equal(2, ok.Acks);
        Assert.Equal(2, ok.DurableAcks);
    }

    [Fact]
    public void A_put_without_enough_replicas_fails_at_the_timeout_saying_how_many_answered()
    {
        // Long enough for both replies to land first on a loaded machine (300 ms once was not, in CI).
        var (coordinator, replicas) = Put(3, 3, 1, TimeSpan.FromMilliseconds(1500));
        Watch(coordinator);
        var coordinate = replicas[0].ExpectMsg<VnodeCoordinatePut>();
        replicas[0].Reply(new VnodePutReply(0, coordinate.RequestId, Stamped("x", "r0"), true, null));
        var apply = replicas[1].ExpectMsg<VnodeApply>();
        replicas[1].Reply(new VnodePutReply(1, apply.RequestId, null, false, null));
        var failed = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(5));
        Assert.Equal((2, 3), (failed.Answered, failed.Needed));
        Assert.Contains("2 of 3 replicas answered", failed.ToString(), StringComparison.Ordinal);
        ExpectTerminated(coordinator);
    }

    [Fact]
    public void A_put_fails_at_once_when_errors_make_the_quorum_impossible()
    {
        var (_, replicas) = Put(3, 2, 1, TimeSpan.FromSeconds(30));
        var coordinate = replicas[0].ExpectMsg<VnodeCoordinatePut>();
        replicas[0].Reply(new VnodePutReply(0, coordinate.RequestId, null, false, "disk full"));
        var failed = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(10)); // long before the 30 s timeout
        Assert.Equal("disk full", failed.Detail);
    }

    [Fact]
    public void The_new_version_goes_to_the_replicas_before_the_coordinating_vnode_has_made_it_durable()
    {
        var (_, replicas) = Put(3, 2, 2, TimeSpan.FromSeconds(5));
        var coordinate = replicas[0].ExpectMsg<VnodeCoordinatePut>();
        var stored = Stamped("x", "r0");
        replicas[0].Reply(new VnodePutReply(0, coordinate.RequestId, stored, false, null)); // w: stamped, committing
        var apply1 = replicas[1].ExpectMsg<VnodeApply>();
        replicas[2].ExpectMsg<VnodeApply>();
        Assert.True(apply1.Object.SameAs(stored));
        replicas[1].Reply(new VnodePutReply(1, apply1.RequestId, null, true, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // two acks, but only one of them durable
        replicas[0].Reply(new VnodePutReply(0, coordinate.RequestId, null, true, null)); // dw
        var ok = ExpectMsg<PutSucceeded>();
        Assert.Equal((2, 2), (ok.Acks, ok.DurableAcks)); // the coordinating vnode counted once towards W
    }

    [Fact]
    public void A_coordinating_vnode_that_fails_to_commit_leaves_the_quorum_to_the_others()
    {
        var (_, replicas) = Put(3, 2, 2, TimeSpan.FromSeconds(30));
        var coordinate = replicas[0].ExpectMsg<VnodeCoordinatePut>();
        replicas[0].Reply(new VnodePutReply(0, coordinate.RequestId, Stamped("x", "r0"), false, null));
        var applies = replicas.Skip(1).Select(r => r.ExpectMsg<VnodeApply>()).ToArray();
        replicas[0].Reply(new VnodePutReply(0, coordinate.RequestId, null, false, "disk full"));
        replicas[1].Reply(new VnodePutReply(1, applies[0].RequestId, null, true, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // one durable ack so far, and two still possible
        replicas[2].Reply(new VnodePutReply(2, applies[1].RequestId, null, true, null));
        var ok = ExpectMsg<PutSucceeded>();
        Assert.Equal((3, 2), (ok.Acks, ok.DurableAcks));

        // The same with a second failure: DW = 2 can no longer be met, and the caller hears at once.
        var (_, again) = Put(3, 2, 2, TimeSpan.FromSeconds(30));
        var c2 = again[0].ExpectMsg<VnodeCoordinatePut>();
        again[0].Reply(new VnodePutReply(0, c2.RequestId, Stamped("x", "r0"), false, null));
        var a2 = again.Skip(1).Select(r => r.ExpectMsg<VnodeApply>()).ToArray();
        again[0].Reply(new VnodePutReply(0, c2.RequestId, null, false, "disk full"));
        again[1].Reply(new VnodePutReply(1, a2[0].RequestId, null, false, "disk full"));
        var failed = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(10));
        Assert.Equal("disk full", failed.Detail);
    }

    [Fact]
    public void A_vnode_goes_on_with_reads_and_writes_of_a_key_while_its_durable_write_waits_for_the_fsync()
    {
        string dir = Directory.CreateTempSubdirectory("kv-vnode-pipeline-").FullName;
        // The shared commit log syncs at most once a second: a write waits up to that for its fsync.
        var env = new StorageEnvironment(1 << 20, 64L << 20, commitLog: new CommitLog(Path.Combine(dir, "commitlog"), groupWindow: TimeSpan.FromSeconds(1)));
        try
        {
            var vnode = Sys.ActorOf(Props.Create(() => new VnodeActor(0, Path.Combine(dir, "0"), new StorageOptions { Environment = env }, "local", null)), "vnode-pipeline");
            VnodePutReply Answer(long id, bool durable) => ExpectMsg<VnodePutReply>(r => r.RequestId == id && r.Durable == durable && r.Error is null, TimeSpan.FromSeconds(5));
            // The first fsync runs at once; the next one waits for the rest of the window.
            vnode.Tell(new VnodeCoordinatePut(Ns, "warm-up"u8.ToArray(), VersionVector.Empty, V("w"), 1, 100, 25, false), TestActor);
            Answer(1, durable: false);
            Answer(1, durable: true);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            vnode.Tell(new VnodeCoordinatePut(Ns, Key, VersionVector.Empty, V("v1"), 2, 100, 25, false), TestActor);
            var first = Answer(2, durable: false);
            // Not yet durable, and the vnode already answers a read of the key with the new version...
            vnode.Tell(new VnodeGet(Ns, Key, 3), TestActor);
            var read = ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5));
            Assert.Equal(["v1"], read.Object!.Values.Select(v => Encoding.UTF8.GetString(v.Value)));
            // ...and a write with that version's context, which replaces it rather than becoming its sibling.
            vnode.Tell(new VnodeCoordinatePut(Ns, Key, first.Object!.Join(), V("v2"), 4, 100, 25, false), TestActor);
            var second = Answer(4, durable: false);
            Assert.True(clock.ElapsedMilliseconds < 500, $"answers took {clock.ElapsedMilliseconds} ms: they waited for the fsync");
            Assert.Equal(["v2"], second.Object!.Values.Select(v => Encoding.UTF8.GetString(v.Value)));
            // Both become durable (together, with the window's fsync), in order.
            Answer(2, durable: true);
            Answer(4, durable: true);
            Assert.True(clock.ElapsedMilliseconds >= 500, $"durable after {clock.ElapsedMilliseconds} ms, before the window's fsync");
            vnode.Tell(new VnodeGet(Ns, Key, 5), TestActor);
            Assert.Equal(["v2"], ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5)).Object!.Values.Select(v => Encoding.UTF8.GetString(v.Value)));
            Watch(vnode);
            Sys.Stop(vnode);
            ExpectTerminated(vnode);
        }
        finally
        {
            env.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_vnode_never_issues_a_dot_twice_across_clean_stops_unclean_stops_and_failed_writes()
    {
        string dir = Directory.CreateTempSubdirectory("kv-vnode-id-").FullName;
        var disk = new FaultInjectionFileSystem();
        var options = new StorageOptions { FileSystem = disk };
        string clean = Path.Combine(dir, "VNODE_CLEAN");
        int started = 0;
        try
        {
            IActorRef Start() => Sys.ActorOf(Props.Create(() => new VnodeActor(0, dir, options, "local", null)), "vnode-id-" + started++);
            void Stop(IActorRef v)
            {
                Watch(v);
                Sys.Stop(v);
                ExpectTerminated(v);
            }
            // A blind last-write-wins put; returns the counters of the version it made.
            VersionVector PutOnce(IActorRef vnode, string value, bool fails = false)
            {
                vnode.Tell(new VnodeCoordinatePut(Ns, Key, VersionVector.Empty, V(value), 7, 100, 25, true), TestActor);
                var early = ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(5));
                Assert.False(early.Durable);
                var last = ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(5));
                Assert.Equal(fails, last.Error is not null);
                Assert.Equal(!fails, last.Durable);
                return early.Object!.Join();
            }

            File.WriteAllText(clean, ""); // a stale mark in a new directory does not survive the start
            var v = Start();
            var first = PutOnce(v, "a");
            string id = Assert.Single(first.Counters.Keys);
            Assert.False(File.Exists(clean)); // running: a crash now leaves no clean-stop mark
            Stop(v);
            Assert.True(File.Exists(clean));

            v = Start(); // after a clean stop: the same identity, the next counter
            Assert.Equal(new[] { (id, 2L) }, PutOnce(v, "b").Counters.Select(c => (c.Key, c.Value)));
            Assert.False(File.Exists(clean));
            Stop(v);

            File.Delete(clean); // what a crash leaves: no mark
            v = Start();
            var afterCrash = PutOnce(v, "c");
            Assert.Equal(2, afterCrash.Counters.Count);
            Assert.Equal(2, afterCrash.Counters[id]); // the old dot is kept, not issued again
            string second = afterCrash.Counters.Keys.Single(k => k != id);

            disk.FailWrites = true; // the commit fails after the new version went out
            var escaped = PutOnce(v, "d", fails: true);
            Assert.Equal(2, escaped.Counters[second]);
            Assert.NotEqual(second, File.ReadAllText(Path.Combine(dir, "VNODE_ID")).Trim());
            Stop(v);
            Assert.False(File.Exists(clean)); // the identity it used last could not be stored durably

            disk.FailWrites = false;
            v = Start();
            var after = PutOnce(v, "e");
            Assert.Equal(3, after.Counters.Count); // (second, 2) left as a dot, never to be issued again
            Assert.Equal(1, after.Counters[second]);
            Stop(v);
        }
        finally
        {
            await Sys.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_vnode_writes_a_key_it_holds_nothing_for_under_a_new_actor_epoch_also_after_a_restart()
    {
        string dir = Directory.CreateTempSubdirectory("kv-vnode-epoch-").FullName;
        var options = new StorageOptions();
        int started = 0;
        try
        {
            IActorRef Start() => Sys.ActorOf(Props.Create(() => new VnodeActor(0, dir, options, "local", null)), "vnode-epoch-" + started++);
            void Stop(IActorRef v)
            {
                Watch(v);
                Sys.Stop(v);
                ExpectTerminated(v);
            }
            // A coordinated put of key k with context ctx; returns the (actor, counter) of the new dot.
            (string Actor, long Counter) PutOnce(IActorRef vnode, string k, VersionVector ctx)
            {
                vnode.Tell(new VnodeCoordinatePut(Ns, Encoding.UTF8.GetBytes(k), ctx, V("v"), 7), TestActor);
                var early = ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(5));
                Assert.Null(early.Error);
                Assert.True(ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(5)).Durable);
                var entry = early.Object!.Entries.Single(e => e.Values.Length > 0 && e.Values[0].Equals(V("v")));
                return (entry.Id, entry.Counter);
            }

            var v = Start();
            var a1 = PutOnce(v, "a", VersionVector.Empty);
            var b1 = PutOnce(v, "b", VersionVector.Empty);
            Assert.Equal(1, a1.Counter);
            Assert.Equal(1, b1.Counter);
            Assert.NotEqual(a1.Actor, b1.Actor); // each key this vnode holds nothing for: a new actor
            var a2 = PutOnce(v, "a", VersionVector.Of((a1.Actor, 1)));
            Assert.Equal((a1.Actor, 2L), a2); // a key it holds goes on under its actor: no new entry per write
            // A context ahead of what is stored (the object was lost and came back older): a new epoch.
            var a3 = PutOnce(v, "a", VersionVector.Of((a1.Actor, 5)));
            Assert.NotEqual(a1.Actor, a3.Actor);
            Stop(v);

            v = Start(); // a clean restart: same identity, epochs past everything issued before
            var c1 = PutOnce(v, "c", VersionVector.Empty);
            Assert.DoesNotContain(c1.Actor, new[] { a1.Actor, b1.Actor, a3.Actor });
            Assert.EndsWith("." + (KeyEpochs.LeaseSize + 1), c1.Actor, StringComparison.Ordinal); // past the stored lease, not the last epoch used
            Assert.Equal(1, c1.Counter);
            Assert.Equal((b1.Actor, 2L), PutOnce(v, "b", VersionVector.Of((b1.Actor, 1))));
            Stop(v);
        }
        finally
        {
            await Sys.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }

    private (IActorRef Coordinator, TestProbe[] Replicas) Get(int n, int r, bool notFoundOk, bool basicQuorum, TimeSpan timeout)
    {
        var replicas = Enumerable.Range(0, n).Select(_ => CreateTestProbe()).ToArray();
        var props = Props3(r: r, notFoundOk: notFoundOk, basicQuorum: basicQuorum, timeout: timeout);
        var refs = Refs(replicas.Select(x => x.Ref));
        var coordinator = Sys.ActorOf(Props.Create(() => new GetCoordinator(Ns, Key, refs, props, TestActor)));
        return (coordinator, replicas);
    }

    [Fact]
    public void In_a_last_write_wins_namespace_a_newer_tombstone_wins_over_an_older_live_sibling()
    {
        // Issue 26: the newest LIVE value used to win, so a delete newer than a concurrent write was undone.
        var replicas = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToArray();
        var props = Props3(r: 2) with { LastWriteWins = true, AllowMult = false };
        Sys.ActorOf(Props.Create(() => new GetCoordinator(Ns, Key, Refs(replicas.Select(x => x.Ref)), props, TestActor)));
        var gets = replicas.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        var live = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("old"u8.ToArray(), "", 1000, false)), "r0");
        var deleted = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(Sibling.Tombstone(2000)), "r1");
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, live, null));
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, deleted, null));
        var notFound = ExpectMsg<NotFound>();
        Assert.Equal(2, notFound.Context.Counters.Count); // the context covers both, so a write with it replaces both

        // The other way round (a live value newer than the tombstone), the live value wins.
        var replicas2 = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToArray();
        Sys.ActorOf(Props.Create(() => new GetCoordinator(Ns, Key, Refs(replicas2.Select(x => x.Ref)), props, TestActor)));
        var gets2 = replicas2.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        var newer = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("new"u8.ToArray(), "", 3000, false)), "r0");
        replicas2[0].Reply(new VnodeGetReply(0, gets2[0].RequestId, newer, null));
        replicas2[1].Reply(new VnodeGetReply(1, gets2[1].RequestId, deleted, null));
        Assert.Equal(["new"], ExpectMsg<GetSucceeded>().Siblings.Select(s => s.ToString()));
    }

    [Fact]
    public void A_get_merges_concurrent_versions_into_siblings_and_repairs_stale_replicas()
    {
        var (_, replicas) = Get(3, 2, true, false, TimeSpan.FromSeconds(5));
        var gets = replicas.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        var a = Stamped("a", "r0");
        var b = Stamped("b", "r1");
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, a, null));
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, b, null));
        var ok = ExpectMsg<GetSucceeded>();
        Assert.Equal(["a", "b"], ok.Siblings.Select(s => s.ToString()).Order());
        Assert.Equal(VersionVector.Of(("r0", 1), ("r1", 1)), ok.Context);
        replicas[2].Reply(new VnodeGetReply(2, gets[2].RequestId, null, null)); // missing on the third
        // Read repair: every replica that lacked part of the merged object gets it.
        foreach (var r in replicas)
        {
            var repair = r.ExpectMsg<VnodeApply>();
            Assert.Equal(2, repair.Object.Size);
            Assert.Equal(VnodeApply.NoReply, repair.RequestId);
        }
    }

    [Fact]
    public void A_get_of_identical_stored_copies_passes_their_bytes_on_and_repairs_only_the_replica_missing_it()
    {
        var (_, replicas) = Get(3, 2, true, false, TimeSpan.FromSeconds(5));
        var gets = replicas.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        var a = Stamped("a", "r0");
        byte[] stored = KvObjectCodec.Encode(a);
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, null, null) { Stored = stored });
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null) { Stored = (byte[])stored.Clone() });
        var ok = ExpectMsg<GetSucceeded>();
        Assert.Equal(["a"], ok.Siblings.Select(s => s.ToString()));
        // Sent on as read, not encoded again (nor copied).
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(ok.Stored!.Value, out var passed));
        Assert.Same(stored, passed.Array);
        replicas[2].Reply(new VnodeGetReply(2, gets[2].RequestId, null, null));
        Assert.True(replicas[2].ExpectMsg<VnodeApply>().Object.SameAs(a));
        replicas[0].ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        replicas[1].ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_get_of_differing_stored_copies_merges_them_and_repairs_every_replica()
    {
        var (_, replicas) = Get(3, 2, true, false, TimeSpan.FromSeconds(5));
        var gets = replicas.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        byte[] a = KvObjectCodec.Encode(Stamped("a", "r0")), b = KvObjectCodec.Encode(Stamped("b", "r1"));
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, null, null) { Stored = a });
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null) { Stored = b });
        var ok = ExpectMsg<GetSucceeded>();
        Assert.Equal(["a", "b"], ok.Siblings.Select(s => s.ToString()).Order());
        Assert.Null(ok.Stored);
        replicas[2].Reply(new VnodeGetReply(2, gets[2].RequestId, null, null) { Stored = a });
        foreach (var r in replicas)
            Assert.Equal(2, r.ExpectMsg<VnodeApply>().Object.Size);
    }

    [Fact]
    public void A_get_applies_notfound_ok_and_basic_quorum()
    {
        var (_, replicas) = Get(3, 2, true, false, TimeSpan.FromSeconds(5));
        var gets = replicas.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, null, null));
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null));
        ExpectMsg<NotFound>();

        // notfound_ok off: not-founds do not count, so one found value out of R = 2 is not enough yet.
        var (_, strict) = Get(3, 2, false, false, TimeSpan.FromMilliseconds(400));
        var g = strict.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        strict[0].Reply(new VnodeGetReply(0, g[0].RequestId, null, null));
        strict[1].Reply(new VnodeGetReply(1, g[1].RequestId, Stamped("a", "r1"), null));
        var failed = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(5));
        Assert.Equal(1, failed.Answered);

        // basic_quorum: a majority of not-founds answers at once.
        var (_, basic) = Get(3, 2, false, true, TimeSpan.FromSeconds(30));
        var bg = basic.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        basic[0].Reply(new VnodeGetReply(0, bg[0].RequestId, null, null));
        basic[1].Reply(new VnodeGetReply(1, bg[1].RequestId, null, null));
        ExpectMsg<NotFound>(TimeSpan.FromSeconds(10)); // long before the 30 s timeout
    }

    [Fact]
    public void A_get_answers_once_all_replicas_have_answered_even_when_fewer_than_R_are_usable()
    {
        // notfound_ok off, R = 2: one value and two not-founds. Riak: r_val_unsatisfied, not a timeout.
        var (_, a) = Get(3, 2, false, false, TimeSpan.FromSeconds(30));
        var ga = a.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        a[0].Reply(new VnodeGetReply(0, ga[0].RequestId, Stamped("a", "r0"), null));
        a[1].Reply(new VnodeGetReply(1, ga[1].RequestId, null, null));
        a[2].Reply(new VnodeGetReply(2, ga[2].RequestId, null, null));
        var shortOfR = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(5)); // long before the 30 s timeout
        Assert.Equal((1, 2), (shortOfR.Answered, shortOfR.Needed));
        Assert.Equal("1 found, 2 not found (notfound_ok off)", shortOfR.Detail);

        // notfound_ok off, R = 1, every replica without the key: not found once all have answered.
        var (_, b) = Get(3, 1, false, false, TimeSpan.FromSeconds(30));
        var gb = b.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        b[0].Reply(new VnodeGetReply(0, gb[0].RequestId, null, null));
        b[1].Reply(new VnodeGetReply(1, gb[1].RequestId, null, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the third may still have it
        b[2].Reply(new VnodeGetReply(2, gb[2].RequestId, null, null));
        ExpectMsg<NotFound>(TimeSpan.FromSeconds(5));

        // Only tombstones and not-founds: not found, with the tombstones' context.
        var (_, c) = Get(3, 2, false, false, TimeSpan.FromSeconds(30));
        var gc = c.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        var tombstone = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(Sibling.Tombstone(1)), "r0");
        c[0].Reply(new VnodeGetReply(0, gc[0].RequestId, tombstone, null));
        c[1].Reply(new VnodeGetReply(1, gc[1].RequestId, null, null));
        c[2].Reply(new VnodeGetReply(2, gc[2].RequestId, null, null));
        Assert.Equal(VersionVector.Of(("r0", 1)), ExpectMsg<NotFound>(TimeSpan.FromSeconds(5)).Context);

        // R = 3: two values and an error; the error is the answer, at once.
        var (_, d) = Get(3, 3, true, false, TimeSpan.FromSeconds(30));
        var gd = d.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        d[0].Reply(new VnodeGetReply(0, gd[0].RequestId, Stamped("a", "r0"), null));
        d[1].Reply(new VnodeGetReply(1, gd[1].RequestId, Stamped("a", "r0"), null));
        d[2].Reply(new VnodeGetReply(2, gd[2].RequestId, null, "disk failed"));
        var failed = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(5));
        Assert.Equal((2, 3, "disk failed"), (failed.Answered, failed.Needed, failed.Detail));

        // notfound_ok off, R = 2: an error and a not-found leave R out of reach; the read ends early.
        var (_, e) = Get(3, 2, false, false, TimeSpan.FromSeconds(30));
        var ge = e.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        e[0].Reply(new VnodeGetReply(0, ge[0].RequestId, null, "disk failed"));
        e[1].Reply(new VnodeGetReply(1, ge[1].RequestId, null, null));
        Assert.Equal("disk failed", ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(5)).Detail);
    }

    [Fact]
    public void Not_founds_of_unsynced_replicas_count_neither_toward_R_nor_against_it()
    {
        // Two replicas took their partitions over from a removed node and are still empty: with
        // notfound_ok their not-founds used to make R = 2 and answer "not found" for a key that exists.
        var (_, replicas) = Get(3, 2, true, false, TimeSpan.FromSeconds(30));
        var gets = replicas.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null) { Unsynced = true });
        replicas[2].Reply(new VnodeGetReply(2, gets[2].RequestId, null, null) { Unsynced = true });
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        var a = Stamped("a", "r0");
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, a, null));
        Assert.Equal(["a"], ExpectMsg<GetSucceeded>(TimeSpan.FromSeconds(5)).Siblings.Select(v => v.ToString()));
        // Read repair fills them.
        Assert.True(replicas[1].ExpectMsg<VnodeApply>().Object.SameAs(a));
        Assert.True(replicas[2].ExpectMsg<VnodeApply>().Object.SameAs(a));

        // A value an unsynced replica has counts; with a synced not-found that makes R = 2.
        var (_, mixed) = Get(3, 2, true, false, TimeSpan.FromSeconds(30));
        var gm = mixed.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        mixed[0].Reply(new VnodeGetReply(0, gm[0].RequestId, a, null) { Unsynced = true });
        mixed[1].Reply(new VnodeGetReply(1, gm[1].RequestId, null, null));
        Assert.IsType<GetSucceeded>(ExpectMsg<object>(TimeSpan.FromSeconds(5)));

        // Nobody synced has it: not found once all have answered.
        var (_, none) = Get(3, 2, true, false, TimeSpan.FromSeconds(30));
        var gn = none.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        none[0].Reply(new VnodeGetReply(0, gn[0].RequestId, null, null) { Unsynced = true });
        none[1].Reply(new VnodeGetReply(1, gn[1].RequestId, null, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        none[2].Reply(new VnodeGetReply(2, gn[2].RequestId, null, null) { Unsynced = true });
        ExpectMsg<NotFound>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Basic_quorum_counts_errors_and_not_founds_against_a_majority()
    {
        // R = 1 and notfound_ok off: without basic_quorum an error and a not-found leave the third replica to wait for...
        var (_, plain) = Get(3, 1, false, false, TimeSpan.FromSeconds(30));
        var gp = plain.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        plain[0].Reply(new VnodeGetReply(0, gp[0].RequestId, null, "disk failed"));
        plain[1].Reply(new VnodeGetReply(1, gp[1].RequestId, null, null));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        plain[2].Reply(new VnodeGetReply(2, gp[2].RequestId, Stamped("a", "r2"), null));
        Assert.Equal(["a"], ExpectMsg<GetSucceeded>(TimeSpan.FromSeconds(5)).Siblings.Select(v => v.ToString()));

        // ...with it, they are a failed majority: the read fails at once (an error among them: not "not found").
        var (_, basic) = Get(3, 1, false, true, TimeSpan.FromSeconds(30));
        var gb = basic.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        basic[0].Reply(new VnodeGetReply(0, gb[0].RequestId, null, "disk failed"));
        basic[1].Reply(new VnodeGetReply(1, gb[1].RequestId, null, null));
        var failed = ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(5));
        Assert.Equal((0, 1, "disk failed"), (failed.Answered, failed.Needed, failed.Detail));

        // Two errors with notfound_ok on and R = 1: a failed majority too.
        var (_, errors) = Get(3, 1, true, true, TimeSpan.FromSeconds(30));
        var ge = errors.Select(r => r.ExpectMsg<VnodeGet>()).ToArray();
        errors[0].Reply(new VnodeGetReply(0, ge[0].RequestId, null, "disk failed"));
        errors[1].Reply(new VnodeGetReply(1, ge[1].RequestId, null, "disk failed"));
        ExpectMsg<QuorumNotMet>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Vnodes_on_real_storage_keep_siblings_resolve_with_context_and_survive_a_restart()
    {
        string dir = Directory.CreateTempSubdirectory("kv-vnode-").FullName;
        try
        {
            var options = new StorageOptions();
            var vnodes = Enumerable.Range(0, 3).Select(i => Sys.ActorOf(Props.Create(() => new VnodeActor(i, Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), options, "local", null)), "vnode" + i)).ToList();
            // A coordinator starts its request as soon as it exists and answers TestActor.
            void Put(VersionVector ctx, string value) =>
                Sys.ActorOf(Props.Create(() => new PutCoordinator(Ns, Key, ctx, V(value), Refs(vnodes), Props3(), TestActor, false)));
            Put(VersionVector.Empty, "one");
            ExpectMsg<PutSucceeded>(TimeSpan.FromSeconds(5));
            Put(VersionVector.Empty, "two"); // blind: concurrent with "one"
            ExpectMsg<PutSucceeded>(TimeSpan.FromSeconds(5));
            Sys.ActorOf(Props.Create(() => new GetCoordinator(Ns, Key, Refs(vnodes), Props3(r: 2), TestActor)));
            var read = ExpectMsg<GetSucceeded>(TimeSpan.FromSeconds(5));
            Assert.Equal(["one", "two"], read.Siblings.Select(s => s.ToString()).Order());
            Put(read.Context, "three"); // with the merged context: replaces both
            ExpectMsg<PutSucceeded>(TimeSpan.FromSeconds(5));

            // Restart every vnode on the same directories: the data and the identities survive.
            foreach (var v in vnodes)
            {
                Watch(v);
                Sys.Stop(v);
                ExpectTerminated(v);
            }
            var again = Enumerable.Range(0, 3).Select(i => Sys.ActorOf(Props.Create(() => new VnodeActor(i, Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), options, "local", null)), "again" + i)).ToList();
            Sys.ActorOf(Props.Create(() => new GetCoordinator(Ns, Key, Refs(again), Props3(r: 3), TestActor)));
            var after = ExpectMsg<GetSucceeded>(TimeSpan.FromSeconds(5));
            Assert.Equal(["three"], after.Siblings.Select(s => s.ToString()));

            // Sibling limit: blind writes pile up siblings until the limit refuses the next one.
            var limited = Props3(maxSiblings: 3);
            void BlindPut(string value) =>
                Sys.ActorOf(Props.Create(() => new PutCoordinator(Ns, Key, VersionVector.Empty, V(value), Refs(again), limited, TestActor, false)));
            BlindPut("s1");
            ExpectMsg<PutSucceeded>(TimeSpan.FromSeconds(5));
            BlindPut("s2");
            ExpectMsg<PutSucceeded>(TimeSpan.FromSeconds(5));
            BlindPut("s3");
            var refused = ExpectMsg<PutRefused>(TimeSpan.FromSeconds(5));
            Assert.StartsWith("too many siblings (4 > 3)", refused.Reason, StringComparison.Ordinal);

            // DELETE is a tombstone written with the read's context: afterwards the key reads as not found.
            Sys.ActorOf(Props.Create(() => new GetCoordinator(Ns, Key, Refs(again), Props3(r: 2), TestActor)));
            var beforeDelete = ExpectMsg<GetSucceeded>(TimeSpan.FromSeconds(5));
            Assert.Equal(3, beforeDelete.Siblings.Count);
            Sys.ActorOf(Props.Create(() => new PutCoordinator(Ns, Key, beforeDelete.Context, Sibling.Tombstone(9), Refs(again), Props3(), TestActor, false)));
            ExpectMsg<PutSucceeded>(TimeSpan.FromSeconds(5));
            Sys.ActorOf(Props.Create(() => new GetCoordinator(Ns, Key, Refs(again), Props3(r: 2), TestActor)));
            ExpectMsg<NotFound>(TimeSpan.FromSeconds(5));
        }
        finally
        {
            await Sys.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }
}
