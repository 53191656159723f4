using System.Text;
using Akka.Actor;
using Kv.Actors.Backup;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>
/// The node's side of backup and restore on a one-node cluster (router, vnodes on real storage):
/// a partition is read page by page from one snapshot (a write during the read is not in it), bad
/// reads are answered with an error, and a merge batch merges (siblings and newer writes survive,
/// an older copy changes nothing) and refuses bad items one by one.
/// </summary>
public sealed class BackupNodeSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private readonly List<ActorSystem> _systems = [];
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    protected override void AfterAll()
    {
        foreach (var system in _systems)
            Shutdown(system, TimeSpan.FromSeconds(10));
        base.AfterAll();
    }

    private async Task<KvNode> StartAsync()
    {
        var system = ActorSystem.Create("kv", KvTestConfig.Node(0));
        _systems.Add(system);
        var cluster = ClusterExt.Get(system);
        cluster.Join(cluster.SelfAddress);
        var node = KvNode.Start(system, KvNodeSpec.TestOptions(Directory.CreateTempSubdirectory("kv-backup-node-").FullName));
        await KvNodeSpec.AwaitConditionAsync(async () => await node.GetRingAsync() is { } ring && (await node.GetHandoffStatusAsync()).Vnodes.Count == ring.Size && await node.IsServingAsync(),
            TimeSpan.FromSeconds(15), "the ring, every vnode started, and the node serving");
        return node;
    }

    private static string KeyIn(int partition, int n) =>
        Enumerable.Range(0, 100_000).Select(i => $"k{i}").Where(k => KeyHash.PartitionOf("default"u8, Encoding.UTF8.GetBytes(k), 16) == partition).Skip(n).First();

    [Fact]
    public async Task A_partition_is_read_in_pages_from_one_snapshot_and_bad_reads_get_an_error()
    {
        var node = await StartAsync();
        var keys = Enumerable.Range(0, 5).Select(n => KeyIn(3, n)).ToList();
        foreach (string k in keys)
            Assert.IsType<PutSucceeded>(await node.PutAsync("default", k, Encoding.UTF8.GetBytes("v-" + k)));
        Assert.IsType<PutSucceeded>(await node.PutAsync("default", KeyIn(4, 0), "elsewhere"u8.ToArray())); // another partition's key

        var first = await node.Router.Ask<BackupChunk>(new BackupRead(3, 16, null, 2, 1 << 20), Wait);
        Assert.Null(first.Error);
        Assert.Equal(2, first.Items.Count);
        Assert.False(first.Done);
        // Written after the snapshot: not in this backup.
        string late = KeyIn(3, 5);
        Assert.IsType<PutSucceeded>(await node.PutAsync("default", late, "late"u8.ToArray()));
        var read = first.Items.ToList();
        var chunk = first;
        while (!chunk.Done)
        {
            chunk = await node.Router.Ask<BackupChunk>(new BackupRead(3, 16, chunk.Cursor, 2, 1 << 20), Wait);
            Assert.Null(chunk.Error);
            read.AddRange(chunk.Items);
        }
        Assert.Equal(keys.Order(StringComparer.Ordinal), read.Select(i => Encoding.UTF8.GetString(i.Key)).Order(StringComparer.Ordinal));
        Assert.All(read, i => Assert.Equal("v-" + Encoding.UTF8.GetString(i.Key), Encoding.UTF8.GetString(KvObjectCodec.Decode(i.Object).Values.Single().Value)));
        // The cursor ended with its last page.
        var gone = await node.Router.Ask<BackupChunk>(new BackupRead(3, 16, chunk.Cursor, 2, 1 << 20), Wait);
        Assert.Contains("no backup cursor", gone.Error, StringComparison.Ordinal);

        Assert.Contains("the ring has 16 partitions", (await node.Router.Ask<BackupChunk>(new BackupRead(3, 8, null, 2, 1 << 20), Wait)).Error, StringComparison.Ordinal);
        Assert.Contains("outside the ring", (await node.Router.Ask<BackupChunk>(new BackupRead(99, 16, null, 2, 1 << 20), Wait)).Error, StringComparison.Ordinal);
        Assert.Contains("no backup cursor", (await node.Router.Ask<BackupChunk>(new BackupRead(3, 16, "backup-nope", 2, 1 << 20), Wait)).Error, StringComparison.Ordinal);
        // Stopped on request: the cursor is gone after.
        var started = await node.Router.Ask<BackupChunk>(new BackupRead(3, 16, null, 1, 1 << 20), Wait);
        node.Router.Tell(new BackupRead(3, 16, started.Cursor, 1, 1, Stop: true));
        await KvNodeSpec.AwaitConditionAsync(async () =>
            (await node.Router.Ask<BackupChunk>(new BackupRead(3, 16, started.Cursor, 1, 1 << 20), Wait)).Error?.Contains("no backup cursor", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task A_merge_batch_keeps_newer_writes_and_siblings_and_refuses_bad_items_one_by_one()
    {
        var node = await StartAsync();
        Assert.IsType<PutSucceeded>(await node.PutAsync("default", "a", "old"u8.ToArray()));
        var old = Assert.IsType<GetSucceeded>(await node.GetAsync("default", "a")).Object;
        Assert.IsType<PutSucceeded>(await node.PutAsync("default", "a", "newer"u8.ToArray(), old.Join()));
        // A concurrent value from elsewhere (another vnode's dot).
        var foreign = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("foreign"u8.ToArray(), "text/plain", 1, false)), "p0-elsewhere");

        var reply = await node.Router.Ask<KvManyReply>(new KvMergeMany("default"u8.ToArray(),
        [
            new KvMergeItem("a"u8.ToArray(), old), // older than what is stored: changes nothing
            new KvMergeItem("b"u8.ToArray(), foreign), // new key
            new KvMergeItem("b"u8.ToArray(), foreign), // twice in the batch: refused
            new KvMergeItem([], foreign), // empty key: refused
        ], RequestOptions.None), Wait);
        Assert.IsType<PutSucceeded>(reply.Outcomes[0]);
        Assert.IsType<PutSucceeded>(reply.Outcomes[1]);
        Assert.Contains("twice", Assert.IsType<RequestFailed>(reply.Outcomes[2]).Reason, StringComparison.Ordinal);
        Assert.Equal(FailureCode.InvalidKey, Assert.IsType<RequestFailed>(reply.Outcomes[3]).Code);
        Assert.Equal(["newer"], Assert.IsType<GetSucceeded>(await node.GetAsync("default", "a")).Siblings.Select(s => Encoding.UTF8.GetString(s.Value)));
        Assert.Equal(["foreign"], Assert.IsType<GetSucceeded>(await node.GetAsync("default", "b")).Siblings.Select(s => Encoding.UTF8.GetString(s.Value)));

        // The foreign value merged into a key that has a value of its own: both stay, as siblings.
        var merged = await node.Router.Ask<KvManyReply>(new KvMergeMany("default"u8.ToArray(), [new KvMergeItem("a"u8.ToArray(), foreign)], RequestOptions.None), Wait);
        Assert.IsType<PutSucceeded>(merged.Outcomes[0]);
        Assert.Equal(["foreign", "newer"], Assert.IsType<GetSucceeded>(await node.GetAsync("default", "a")).Siblings.Select(s => Encoding.UTF8.GetString(s.Value)).Order(StringComparer.Ordinal));
        // An empty batch is refused as a whole.
        Assert.IsType<RequestFailed>(await node.Router.Ask<object>(new KvMergeMany("default"u8.ToArray(), [], RequestOptions.None), Wait));
    }
}
