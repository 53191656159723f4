using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using Kv.Cluster.Actor;
using Kv.Cluster.TestKit;
using Kv.Storage;
using Xunit.Abstractions;
using ClusterExt = Kv.Cluster.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>The whole store on a one-node cluster: router, ring manager, vnodes on real storage.</summary>
public sealed class KvNodeSpec(ITestOutputHelper output) : TestKit(output)
{
    internal static KvNodeOptions TestOptions(string dir) => new()
    {
        DataDirectory = dir,
        RingSize = 16,
        RingTick = TimeSpan.FromMilliseconds(200),
        TombstoneGrace = TimeSpan.FromMilliseconds(300),
        MemtableBudgetBytes = 64L << 20,
        BlockCacheBytes = 8L << 20,
        Storage = new StorageOptions { WriteBufferSize = 1L << 20 },
        Handoff = new HandoffOptions { RetryDelay = TimeSpan.FromMilliseconds(300), AckTimeout = TimeSpan.FromSeconds(3), ForwardingGrace = TimeSpan.FromSeconds(5) },
        Namespaces = new Dictionary<string, NamespaceProps>
        {
            ["default"] = NamespaceProps.Default with { Timeout = TimeSpan.FromSeconds(3) },
            ["lww"] = NamespaceProps.Default with { AllowMult = false, LastWriteWins = true },
        },
    };

    private async Task<(ActorSystem System, KvNode Node, string Dir)> StartAsync()
    {
        string dir = Directory.CreateTempSubdirectory("kv-node-").FullName;
        var system = CreateSystem("kv", new ActorSystemOptions { Remote = FastRemote(), Cluster = FastCluster() });
        var cluster = ClusterExt.Get(system);
        cluster.Join(cluster.SelfAddress);
        var node = KvNode.Start(system, TestOptions(dir));
        await AwaitConditionAsync(async () => await node.GetRingAsync() is not null, TimeSpan.FromSeconds(15));
        return (system, node, dir);
    }

    private static string Text(Objects.Sibling s) => Encoding.UTF8.GetString(s.Value);

    [Fact]
    public async Task Put_get_siblings_resolution_delete_and_reaping_on_one_node()
    {
        var (system, node, dir) = await StartAsync();
        try
        {
            var ring = (await node.GetRingAsync())!;
            Assert.Equal(16, ring.Size);
            Assert.All(ring.Owners, o => Assert.Equal(node.Self, o));
            Assert.Equal(ring, RingFile.Read(Path.Combine(dir, "ring.bin")));

            var put = Assert.IsType<PutSucceeded>(await node.PutAsync("default", "k", "v1"u8.ToArray()));
            Assert.InRange(put.Acks, 2, 3); // W = 2; the third replica may answer before the second is durable
            var got = Assert.IsType<GetSucceeded>(await node.GetAsync("default", "k"));
            Assert.Equal(["v1"], got.Siblings.Select(Text));

            // A blind write is concurrent with v1: both are kept.
            Assert.IsType<PutSucceeded>(await node.PutAsync("default", "k", "v2"u8.ToArray()));
            var both = Assert.IsType<GetSucceeded>(await node.GetAsync("default", "k", new RequestOptions { R = 3 }));
            Assert.Equal(["v1", "v2"], both.Siblings.Select(Text).Order());

            // A write with the read's context replaces exactly what the read saw.
            var resolved = Assert.IsType<PutSucceeded>(await node.PutAsync("default", "k", "v3"u8.ToArray(), both.Context, new RequestOptions { ReturnBody = true }));
            Assert.Equal(["v3"], resolved.Object!.Values.Select(Text));

            // Delete with the context, then the key is not found, and its tombstone is reaped on all N.
            var before = Assert.IsType<GetSucceeded>(await node.GetAsync("default", "k"));
            Assert.IsType<PutSucceeded>(await node.DeleteAsync("default", "k", before.Context));
            Assert.IsType<NotFound>(await node.GetAsync("default", "k", new RequestOptions { R = 3 }));
            await AwaitConditionAsync(() => Task.FromResult(node.Stats.TombstonesReaped == 1), TimeSpan.FromSeconds(10), "the tombstone reaped");
            foreach (var replica in ring.PreferenceList("default"u8, "k"u8, 3))
            {
                var reply = await KvPaths.Vnode(system, replica.Node, replica.Partition).Ask<VnodeGetReply>(new VnodeGet("default"u8.ToArray(), "k"u8.ToArray(), 1), TimeSpan.FromSeconds(5));
                Assert.Null(reply.Object);
                Assert.Null(reply.Error);
                Assert.False(reply.Found); // nothing stored: no bytes, not an empty encoding
            }
        }
        finally
        {
            await system.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_write_after_a_reap_is_not_dropped_by_an_old_context_kv679()
    {
        // Issue 26 / Riak's kv679: once the tombstone was reaped, the next put used to get the dot
        // (vnode, 1) again, which the old context C already covered, so a write with C dropped it.
        var (system, node, dir) = await StartAsync();
        try
        {
            var all = new RequestOptions { R = 3, W = 3, DW = 3 };
            var v1 = Assert.IsType<PutSucceeded>(await node.PutAsync("default", "k679", "v1"u8.ToArray(), options: all));
            Assert.IsType<PutSucceeded>(await node.PutAsync("default", "k679", "v1b"u8.ToArray(), v1.Context, all));
            var read = Assert.IsType<GetSucceeded>(await node.GetAsync("default", "k679", all));
            var c = read.Context;
            Assert.IsType<PutSucceeded>(await node.DeleteAsync("default", "k679", c, all));
            await AwaitConditionAsync(() => Task.FromResult(node.Stats.TombstonesReaped >= 1), TimeSpan.FromSeconds(10), "the tombstone reaped");

            Assert.IsType<PutSucceeded>(await node.PutAsync("default", "k679", "X"u8.ToArray(), options: all)); // acknowledged
            Assert.IsType<PutSucceeded>(await node.PutAsync("default", "k679", "Y"u8.ToArray(), c, all)); // an old context
            var final = Assert.IsType<GetSucceeded>(await node.GetAsync("default", "k679", all));
            Assert.Equal(["X", "Y"], final.Siblings.Select(Text).Order());
        }
        finally
        {
            await system.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Last_write_wins_namespaces_return_one_value_and_bad_requests_get_clear_errors()
    {
        var (system, node, dir) = await StartAsync();
        try
        {
            Assert.IsType<PutSucceeded>(await node.PutAsync("lww", "k", "old"u8.ToArray()));
            await Task.Delay(5);
            Assert.IsType<PutSucceeded>(await node.PutAsync("lww", "k", "new"u8.ToArray()));
            var got = Assert.IsType<GetSucceeded>(await node.GetAsync("lww", "k"));
            Assert.Equal(["new"], got.Siblings.Select(Text));

            var emptyKey = Assert.IsType<RequestFailed>(await node.PutAsync("default", "", "x"u8.ToArray()));
            Assert.Contains("key must be 1..65536 bytes", emptyKey.Reason, StringComparison.Ordinal);
            var big = Assert.IsType<RequestFailed>(await node.PutAsync("default", "big", new byte[(1 << 20) + 1]));
            Assert.Contains("exceeds kv.max-object-size", big.Reason, StringComparison.Ordinal);
            var badR = Assert.IsType<RequestFailed>(await node.GetAsync("default", "k", new RequestOptions { R = 4 }));
            Assert.Contains("r = 4", badR.Reason, StringComparison.Ordinal);
            Assert.Equal(3, node.Stats.Failed);

            // Per-request timeout and quorum overrides reach the coordinators.
            var ok = Assert.IsType<PutSucceeded>(await node.PutAsync("default", "w3", "x"u8.ToArray(), options: new RequestOptions { W = 3, DW = 3, Timeout = TimeSpan.FromSeconds(2) }));
            Assert.Equal((3, 3), (ok.Acks, ok.DurableAcks));
        }
        finally
        {
            await system.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }
}
