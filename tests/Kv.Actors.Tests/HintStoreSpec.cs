using Akka.Actor;
using Kv.Actors.Hints;
using Kv.Actors.Objects;
using Kv.Actors.Persistence;
using Kv.Actors.Vnode;
using Kv.Storage;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>
/// The hint store on its own (a one-node cluster, the journal on real files): hints are answered
/// durable and read back; past the size cap or the window new ones are refused and counted; a
/// store started again recovers its hints from the journal (and from a snapshot).
/// </summary>
public sealed class HintStoreSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string Away = "akka.tcp://kv@127.0.0.1:1"; // a node that is not there
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-hints-").FullName;
    private readonly StorageEnvironment _environment = new(8L << 20, 64L << 20);

    public HintStoreSpec(ITestOutputHelper output) : base(KvTestConfig.Node().WithFallback(KvPersistenceStorage.PluginConfig), output: output)
    {
        KvPersistenceStorage.Register(Sys, _dir, _environment);
        ClusterExt.Get(Sys).Join(ClusterExt.Get(Sys).SelfAddress);
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _environment.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static readonly DvvSet<Sibling> Obj = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("v"u8.ToArray(), "", 1, false)), "vn1");

    private static HintApply Hint(int i) => new(7, Away, "default"u8.ToArray(), System.Text.Encoding.UTF8.GetBytes($"k{i}"), Obj, i + 1);

    private IActorRef Store(HintOptions options, string name) => Sys.ActorOf(Props.Create(() => new HintStore(ClusterExt.Get(Sys).SelfAddress.ToString(), options)), name);

    [Fact]
    public void Hints_are_durable_readable_capped_and_recovered_after_a_restart()
    {
        // A hint counts its object's and key's bytes; a hint that would pass the cap is dropped: this one takes five.
        int per = KvObjectCodec.Encode(Obj).Length + 2;
        var options = new HintOptions { MaxBytesPerTarget = 5 * per, SnapshotEvery = 3 };
        var store = Store(options, "hints-1");
        int accepted = 0, dropped = 0;
        for (int i = 0; i < 8; i++)
        {
            store.Tell(Hint(i), TestActor);
            var reply = ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(10));
            Assert.Equal(7, reply.Partition);
            if (reply.Error is null)
            {
                Assert.True(reply.Durable);
                accepted++;
            }
            else
            {
                Assert.Contains("dropped", reply.Error, StringComparison.Ordinal);
                dropped++;
            }
        }
        Assert.Equal((5, 3), (accepted, dropped));
        store.Tell(new HintGet(7, "default"u8.ToArray(), "k0"u8.ToArray(), 99), TestActor);
        var read = ExpectMsg<VnodeGetReply>();
        Assert.True(read.Found);
        Assert.Equal("v", System.Text.Encoding.UTF8.GetString(read.Object!.Values.Single().Value));
        store.Tell(new HintGet(7, "default"u8.ToArray(), "nothing"u8.ToArray(), 100), TestActor);
        var none = ExpectMsg<VnodeGetReply>();
        Assert.False(none.Found);
        Assert.True(none.Unsynced); // a fallback's not-found abstains

        store.Tell(GetHintStatus.Instance, TestActor);
        var target = ExpectMsg<HintStatus>().Targets.Single();
        Assert.Equal((Away, 5L, 3L, "waiting"), (target.Target, target.Count, target.Dropped, target.State));

        // Started again (a snapshot was taken after three events): the same five hints.
        Watch(store);
        Sys.Stop(store);
        ExpectTerminated(store);
        var again = Store(options, "hints-2");
        AwaitAssert(() =>
        {
            again.Tell(GetHintStatus.Instance, TestActor);
            Assert.Equal(5, ExpectMsg<HintStatus>().Targets.Single().Count);
        }, TimeSpan.FromSeconds(10));
        again.Tell(new HintGet(7, "default"u8.ToArray(), "k4"u8.ToArray(), 101), TestActor);
        Assert.True(ExpectMsg<VnodeGetReply>().Found);
        Sys.Stop(again);
    }

    [Fact]
    public void A_target_away_longer_than_the_window_gets_no_new_hints()
    {
        var store = Store(new HintOptions { Window = TimeSpan.FromMilliseconds(300) }, "hints-window");
        store.Tell(Hint(0) with { Target = "akka.tcp://kv@127.0.0.1:2" }, TestActor);
        Assert.Null(ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(10)).Error); // away since now: within the window
        Thread.Sleep(500);
        store.Tell(Hint(1) with { Target = "akka.tcp://kv@127.0.0.1:2" }, TestActor);
        var refused = ExpectMsg<VnodePutReply>();
        Assert.Contains("hint window", refused.Error, StringComparison.Ordinal);
        store.Tell(GetHintStatus.Instance, TestActor);
        var t = ExpectMsg<HintStatus>().Targets.Single();
        Assert.Equal((1L, 1L, "window passed"), (t.Count, t.Dropped, t.State));
        Sys.Stop(store);
    }
}
