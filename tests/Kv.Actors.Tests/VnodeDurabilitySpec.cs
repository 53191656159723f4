using System.Text;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.TestKit;
using Kv.Storage;
using Kv.Storage.IO;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>
/// A vnode's durable acknowledgements against power cuts (a crashable in-memory disk): what it
/// acknowledged as durable is there after the cut, even when it held the object already.
/// </summary>
public sealed class VnodeDurabilitySpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private static readonly byte[] Ns = "default"u8.ToArray();

    private static Sibling V(string s) => new(Encoding.UTF8.GetBytes(s), "text/plain", 1, false);

    private static DvvSet<Sibling> Stamped(string value, string vnode) => DvvSet<Sibling>.Create(DvvSet<Sibling>.New(V(value)), vnode);

    private sealed class Disk : IDisposable
    {
        private int _started;

        public string Dir { get; } = Directory.CreateTempSubdirectory("kv-vnode-durable-").FullName;

        public FaultInjectionFileSystem Fs { get; } = new();

        public IActorRef Start(ActorSystem sys) =>
            sys.ActorOf(Props.Create(() => new VnodeActor(0, Dir, new StorageOptions { FileSystem = Fs }, "local", null)), "vnode-durable-" + _started++);

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Power cut under a running vnode: it can store nothing more, stops, and the disk keeps only what was synced.</summary>
    private void PowerCut(Disk disk, IActorRef vnode)
    {
        disk.Fs.FailWrites = true;
        Watch(vnode);
        Sys.Stop(vnode);
        ExpectTerminated(vnode);
        disk.Fs.FailWrites = false;
        disk.Fs.Crash();
    }

    /// <summary>The values a restarted vnode holds under the key (the vnode is stopped afterwards).</summary>
    private string[] ReadAfterRestart(Disk disk, byte[] key)
    {
        var vnode = disk.Start(Sys);
        vnode.Tell(new VnodeGet(Ns, key, 99), TestActor);
        var reply = ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5));
        Watch(vnode);
        Sys.Stop(vnode);
        ExpectTerminated(vnode);
        Assert.Null(reply.Error);
        return reply.Object?.Values.Select(v => Encoding.UTF8.GetString(v.Value)).ToArray() ?? [];
    }

    [Fact]
    public void An_apply_acknowledged_durable_survives_a_power_cut_when_the_vnode_already_held_the_object_unsynced()
    {
        using var disk = new Disk();
        var vnode = disk.Start(Sys);
        var key = "repaired"u8.ToArray();
        var obj = Stamped("x", "r0");
        // Stored without a sync, as read repair stores it (the reply only says it is committed).
        vnode.Tell(new VnodeApply(Ns, key, obj, Durable: false, RequestId: 1), TestActor);
        var first = ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(5));
        Assert.Equal((1L, false, (string?)null), (first.RequestId, first.Durable, first.Error));
        // The same object again, asked durable: nothing to write, but the answer must still mean it.
        vnode.Tell(new VnodeApply(Ns, key, obj, Durable: true, RequestId: 2), TestActor);
        var second = ExpectMsg<VnodePutReply>(TimeSpan.FromSeconds(5));
        Assert.Equal((2L, true, (string?)null), (second.RequestId, second.Durable, second.Error));

        PowerCut(disk, vnode);
        Assert.Equal(["x"], ReadAfterRestart(disk, key));
    }

    [Fact]
    public void A_handoff_batch_of_unchanged_objects_acknowledged_survives_a_power_cut()
    {
        using var disk = new Disk();
        var vnode = disk.Start(Sys);
        var key = VnodeActor.StorageKey(Ns, "forwarded"u8.ToArray());
        var encoded = KvObjectCodec.Encode(Stamped("y", "old-owner"));
        // A forwarded write (stored without a sync, not acknowledged)...
        vnode.Tell(new HandoffBatch(0, HandoffBatch.Forwarded, [(key, encoded)], "old"), TestActor);
        // ...then the same object in a handoff batch: acknowledged as stored durably.
        vnode.Tell(new HandoffBatch(0, 1, [(key, encoded)], "old"), TestActor);
        var ack = ExpectMsg<HandoffBatchAck>(TimeSpan.FromSeconds(5));
        Assert.Equal((1L, (string?)null), (ack.Seq, ack.Error));

        PowerCut(disk, vnode);
        Assert.Equal(["y"], ReadAfterRestart(disk, "forwarded"u8.ToArray()));
    }
}
