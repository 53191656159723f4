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

    [Fact]
    public async Task The_longest_legal_key_is_stored_and_a_longer_one_is_refused_without_restarting_a_vnode()
    {
        var (system, node, dir) = await StartAsync();
        using var log = new LogCapture(system);
        try
        {
            // 64 KiB (kv.max-key-size) behind the namespace: more than 64 KiB for the engine.
            string longest = new('k', node.Options.MaxKeyBytes);
            var put = await node.PutAsync("default", longest, "v"u8.ToArray(), options: new RequestOptions { W = 3, DW = 3 });
            Assert.IsType<PutSucceeded>(put);
            var got = Assert.IsType<GetSucceeded>(await node.GetAsync("default", longest, new RequestOptions { R = 3 }));
            Assert.Equal(["v"], got.Siblings.Select(Text));

            var tooLong = Assert.IsType<RequestFailed>(await node.PutAsync("default", longest + "k", "v"u8.ToArray()));
            Assert.Equal(FailureCode.InvalidKey, tooLong.Code);
            Assert.Contains("key must be 1..65536 bytes (got 65537)", tooLong.Reason, StringComparison.Ordinal);

            // A vnode asked directly with a key the engine cannot hold answers with an error and stays up.
            var replica = (await node.GetRingAsync())!.PreferenceList("default"u8, "x"u8, 1)[0];
            var vnode = KvPaths.Vnode(system, replica.Node, replica.Partition);
            var reply = await vnode.Ask<VnodeGetReply>(new VnodeGet("default"u8.ToArray(), new byte[LsmEngine.MaxKeySize], 9), TimeSpan.FromSeconds(5));
            Assert.Contains("exceeds the storage engine's key limit", reply.Error, StringComparison.Ordinal);
            var apply = await vnode.Ask<VnodePutReply>(new VnodeApply("default"u8.ToArray(), new byte[LsmEngine.MaxKeySize], got.Object, true, 10), TimeSpan.FromSeconds(5));
            Assert.NotNull(apply.Error);
            Assert.Equal(0, log.Count(Microsoft.Extensions.Logging.LogLevel.Warning, "supervisor decided"));
        }
        finally
        {
            await system.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Partitions_taken_over_from_a_removed_node_fill_themselves_from_their_neighbours()
    {
        string dirA = Directory.CreateTempSubdirectory("kv-node-a-").FullName, dirB = Directory.CreateTempSubdirectory("kv-node-b-").FullName;
        var a = CreateSystem("kv", new ActorSystemOptions { Remote = FastRemote(), Cluster = FastCluster() });
        var b = CreateSystem("kv", new ActorSystemOptions { Remote = FastRemote(), Cluster = FastCluster() });
        using var log = new LogCapture(a);
        try
        {
            var clusterA = ClusterExt.Get(a);
            clusterA.Join(clusterA.SelfAddress);
            var nodeA = KvNode.Start(a, TestOptions(dirA));
            ClusterExt.Get(b).Join(clusterA.SelfAddress);
            var nodeB = KvNode.Start(b, TestOptions(dirB));
            string[] both = [nodeA.Self, nodeB.Self];
            Array.Sort(both, StringComparer.Ordinal);
            await AwaitConditionAsync(async () => await nodeA.GetRingAsync() is { Settled: true } r && r.Members.SequenceEqual(both), TimeSpan.FromSeconds(30), "a settled ring of both nodes");

            var keys = Enumerable.Range(0, 24).Select(i => "key" + i).ToList();
            foreach (var key in keys)
                Assert.IsType<PutSucceeded>(await nodeA.PutAsync("default", key, Encoding.UTF8.GetBytes(key), options: new RequestOptions { W = 3, DW = 3 }));

            // b is downed (as after a crash; a stopping node would hand its data off first): its
            // partitions go to a at once, into new, empty vnodes.
            clusterA.Down(ClusterExt.Get(b).SelfAddress);
            await b.Terminate();
            await AwaitConditionAsync(async () => await nodeA.GetRingAsync() is { Settled: true } r && r.Members.SequenceEqual([nodeA.Self]), TimeSpan.FromSeconds(30), "a ring of a alone");
            await AwaitConditionAsync(() => Task.FromResult(log.Count(Microsoft.Extensions.Logging.LogLevel.Information, "filled from its neighbours; synced") == 8), TimeSpan.FromSeconds(30), "b's 8 partitions filled");
            Assert.Equal(8, log.Count(Microsoft.Extensions.Logging.LogLevel.Information, "took the partition over without its data"));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(dirA, "vnodes"), "VNODE_UNSYNCED", SearchOption.AllDirectories));

            // Every replica holds every key again (asked directly: no read repair involved).
            var ring = (await nodeA.GetRingAsync())!;
            foreach (var key in keys)
            {
                foreach (var replica in ring.PreferenceList("default"u8, Encoding.UTF8.GetBytes(key), 3))
                {
                    var reply = await KvPaths.Vnode(a, replica.Node, replica.Partition).Ask<VnodeGetReply>(new VnodeGet("default"u8.ToArray(), Encoding.UTF8.GetBytes(key), 1), TimeSpan.FromSeconds(5));
                    Assert.True(reply.Found, $"{key} on partition {replica.Partition}");
                    Assert.False(reply.Unsynced);
                }
                var got = Assert.IsType<GetSucceeded>(await nodeA.GetAsync("default", key, new RequestOptions { R = 3, NotFoundOk = false }));
                Assert.Equal([key], got.Siblings.Select(Text));
            }
        }
        finally
        {
            await a.Terminate();
            await b.Terminate();
            Directory.Delete(dirA, recursive: true);
            Directory.Delete(dirB, recursive: true);
        }
    }
}
