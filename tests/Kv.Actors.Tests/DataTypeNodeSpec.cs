using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Crdt;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.TestKit;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>The CRDT data types through the whole actor path of a one-node cluster (router, coordinators, vnodes on real storage).</summary>
public sealed class DataTypeNodeSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private async Task<(ActorSystem System, KvNode Node, string Dir)> StartAsync(string? existing = null, int port = 0)
    {
        string dir = existing ?? Directory.CreateTempSubdirectory("kv-crdt-").FullName;
        var system = ActorSystem.Create("kv", KvTestConfig.Node(port));
        InitializeLogger(system, "[node] ");
        var cluster = ClusterExt.Get(system);
        cluster.Join(cluster.SelfAddress);
        var options = KvNodeSpec.TestOptions(dir);
        var namespaces = new Dictionary<string, NamespaceProps>(options.Namespaces)
        {
            ["counters"] = NamespaceProps.Default with { Datatype = Datatype.Counter, Timeout = TimeSpan.FromSeconds(3) },
            ["sets"] = NamespaceProps.Default with { Datatype = Datatype.Set, Timeout = TimeSpan.FromSeconds(3) },
            ["registers"] = NamespaceProps.Default with { Datatype = Datatype.Register, Timeout = TimeSpan.FromSeconds(3) },
            ["hashes"] = NamespaceProps.Default with { Datatype = Datatype.Hash, Timeout = TimeSpan.FromSeconds(3) },
            ["lists"] = NamespaceProps.Default with { Datatype = Datatype.List, Timeout = TimeSpan.FromSeconds(3) },
        };
        var node = KvNode.Start(system, options with { Namespaces = namespaces, MaxObjectBytes = 64 * 1024 });
        await KvNodeSpec.AwaitConditionAsync(async () => await node.GetRingAsync() is { } ring && (await node.GetHandoffStatusAsync()).Vnodes.Count == ring.Size && await node.IsServingAsync(),
            TimeSpan.FromSeconds(15), "the ring, every vnode started, and the node serving");
        // The router may learn the ring a moment after the ring manager ("no ring yet").
        await KvNodeSpec.AwaitConditionAsync(async () => await node.GetAsync("default", "probe") is not RequestFailed { Code: FailureCode.Unavailable },
            TimeSpan.FromSeconds(10), "the router serving");
        return (system, node, dir);
    }

    private static async Task Stop(ActorSystem system, string dir)
    {
        await system.Terminate();
        Directory.Delete(dir, recursive: true);
    }

    private static Task<object> Update(KvNode node, string ns, string key, CrdtOp op, RequestOptions? options = null) =>
        node.Router.Ask<object>(new KvUpdate(B(ns), B(key), op, options ?? RequestOptions.None), TimeSpan.FromSeconds(10));

    private static CrdtOp Add(params string[] members) => new(CrdtOpKind.SetAdd, 0, members.Select(B).ToList());

    private static CrdtOp Remove(params string[] members) => new(CrdtOpKind.SetRemove, 0, members.Select(B).ToList());

    private static async Task<object?> ReadState(KvNode node, string ns, string key, RequestOptions? options = null)
    {
        var reply = await node.GetAsync(ns, key, options);
        if (reply is NotFound)
            return null;
        var got = Assert.IsType<GetSucceeded>(reply);
        var one = Assert.Single(got.Siblings); // never siblings
        return CrdtValues.Decode(CrdtValues.Of(one.ContentType), one.Value);
    }

    [Fact]
    public async Task Counters_count_every_concurrent_increment_and_refuse_what_they_cannot_take()
    {
        var (system, node, dir) = await StartAsync();
        try
        {
            Assert.Equal(1, Assert.IsType<UpdateSucceeded>(await Update(node, "counters", "c", CrdtOp.Increment(1))).Number);
            Assert.Equal(-4, Assert.IsType<UpdateSucceeded>(await Update(node, "counters", "c", CrdtOp.Increment(-5))).Number);
            // 200 concurrent increments of 1..: none lost, none counted twice.
            var all = await Task.WhenAll(Enumerable.Range(1, 200).Select(i => Update(node, "counters", "c", CrdtOp.Increment(i))));
            Assert.All(all, r => Assert.IsType<UpdateSucceeded>(r));
            long expected = -4 + Enumerable.Range(1, 200).Sum();
            Assert.Equal(expected, all.Cast<UpdateSucceeded>().Max(r => r.Number));
            Assert.Equal(expected, Assert.IsType<PnCounter>(await ReadState(node, "counters", "c", new RequestOptions { R = 3 })).Value);

            // Overflow: refused, nothing stored.
            var overflow = Assert.IsType<RequestFailed>(await Update(node, "counters", "c", CrdtOp.Increment(long.MaxValue)));
            Assert.Contains("overflow", overflow.Reason);
            Assert.Equal(expected, Assert.IsType<PnCounter>(await ReadState(node, "counters", "c", new RequestOptions { R = 3 })).Value);

            // The wrong kind of request for the namespace: refused with a clear error, nothing stored.
            var put = Assert.IsType<RequestFailed>(await node.PutAsync("counters", "c", B("7")));
            Assert.Contains("datatype counter", put.Reason);
            var sadd = Assert.IsType<RequestFailed>(await Update(node, "counters", "c2", Add("x")));
            Assert.Contains("datatype counter", sadd.Reason);
            Assert.IsType<NotFound>(await node.GetAsync("counters", "c2", new RequestOptions { R = 3 }));
            var incrPlain = Assert.IsType<RequestFailed>(await Update(node, "default", "k", CrdtOp.Increment(1)));
            Assert.Contains("datatype none", incrPlain.Reason);
            Assert.IsType<NotFound>(await node.GetAsync("default", "k", new RequestOptions { R = 3 }));
        }
        finally
        {
            await Stop(system, dir);
        }
    }

    [Fact]
    public async Task Concurrent_states_at_different_replicas_merge_on_read_and_on_the_next_update()
    {
        var (system, node, dir) = await StartAsync();
        try
        {
            var ring = (await node.GetRingAsync())!;
            var replicas = ring.PreferenceList(B("counters"), B("k"), 3);
            // Each primary coordinates an update of its own, with no replication: three concurrent states (siblings in the DVV).
            long i = 1;
            foreach (var r in replicas)
            {
                var reply = await KvPaths.Vnode(system, r.Node, r.Partition).Ask<VnodeUpdateReply>(
                    new VnodeCoordinateUpdate(B("counters"), B("k"), CrdtOp.Increment(i++ * 10), Datatype.Counter, 1, 1 << 20), TimeSpan.FromSeconds(5));
                Assert.Equal(UpdateOutcome.Applied, reply.Outcome);
            }
            // A read merges them into one value: 10 + 20 + 30 (read repair then spreads the siblings; the next update collapses them).
            Assert.Equal(60, Assert.IsType<PnCounter>(await ReadState(node, "counters", "k", new RequestOptions { R = 3 })).Value);
            await KvNodeSpec.AwaitConditionAsync(async () =>
            {
                foreach (var r in replicas)
                {
                    var got = await KvPaths.Vnode(system, r.Node, r.Partition).Ask<VnodeGetReply>(new VnodeGet(B("counters"), B("k"), 1), TimeSpan.FromSeconds(5));
                    if (got.Object is not { } o || PnCounter.Decode(CrdtValues.Collapse(o)!.Value).Value != 60)
                        return false;
                }
                return true;
            }, TimeSpan.FromSeconds(10), "read repair gave every replica all three states");
            var next = Assert.IsType<UpdateSucceeded>(await Update(node, "counters", "k", CrdtOp.Increment(1)));
            Assert.Equal(61, next.Number);
            var first = await KvPaths.Vnode(system, replicas[0].Node, replicas[0].Partition).Ask<VnodeGetReply>(new VnodeGet(B("counters"), B("k"), 1), TimeSpan.FromSeconds(5));
            Assert.Equal(1, first.Object!.Size); // the coordinating replica stored one merged value
            var counter = PnCounter.Decode(first.Object.Values[0].Value);
            Assert.Equal(3, counter.Entries.Count); // one actor per coordinating vnode, not per write
        }
        finally
        {
            await Stop(system, dir);
        }
    }

    [Fact]
    public async Task A_counter_keeps_one_actor_per_coordinating_vnode_across_restarts_clean_or_not()
    {
        int port = KvNodeSpec.FreePort();
        var (system, node, dir) = await StartAsync(port: port);
        try
        {
            for (int i = 0; i < 5; i++)
                Assert.IsType<UpdateSucceeded>(await Update(node, "counters", "r", CrdtOp.Increment(1)));
            var before = Assert.IsType<PnCounter>(await ReadState(node, "counters", "r", new RequestOptions { R = 3 }));
            Assert.Equal((5, 1), (before.Value, before.Entries.Count));
            for (int restart = 0; restart < 2; restart++)
            {
                await system.Terminate();
                await node.Stopped;
                if (restart == 1)
                {
                    // As after a crash: no clean-stop marks (the vnodes take new DVV identities).
                    foreach (var clean in Directory.EnumerateFiles(dir, "VNODE_CLEAN", SearchOption.AllDirectories))
                        File.Delete(clean);
                }
                (system, node, _) = await StartAsync(dir, port);
                var reply = await Update(node, "counters", "r", CrdtOp.Increment(1));
                Assert.True(reply is UpdateSucceeded, reply.ToString());
                Assert.Equal(6 + restart, ((UpdateSucceeded)reply).Number);
            }
            var after = Assert.IsType<PnCounter>(await ReadState(node, "counters", "r", new RequestOptions { R = 3 }));
            Assert.Equal(7, after.Value);
            Assert.Equal(before.Entries.Keys, after.Entries.Keys); // no new actor per restart or per write
        }
        finally
        {
            await system.Terminate();
            await node.Stopped;
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Sets_add_remove_and_refuse_bad_input()
    {
        var (system, node, dir) = await StartAsync();
        try
        {
            Assert.Equal(3, Assert.IsType<UpdateSucceeded>(await Update(node, "sets", "s", Add("a", "b", "c"))).Number);
            Assert.Equal(1, Assert.IsType<UpdateSucceeded>(await Update(node, "sets", "s", Add("a", "d"))).Number);
            Assert.Equal(1, Assert.IsType<UpdateSucceeded>(await Update(node, "sets", "s", Remove("b", "zz"))).Number);
            var set = Assert.IsType<OrSet>(await ReadState(node, "sets", "s", new RequestOptions { R = 3 }));
            Assert.Equal(["a", "c", "d"], set.Members.Keys.Select(Encoding.UTF8.GetString));

            // Too many members in one request, a member too large, a state beyond the object size: refused, nothing stored.
            Assert.IsType<RequestFailed>(await Update(node, "sets", "s", Add(Enumerable.Range(0, CrdtValues.MaxItemsPerOp + 1).Select(i => "m" + i).ToArray())));
            Assert.IsType<RequestFailed>(await Update(node, "sets", "s", Add(new string('x', OrSet.MaxMemberBytes + 1))));
            var big = Assert.IsType<RequestFailed>(await Update(node, "sets", "s", Add(Enumerable.Range(0, 100).Select(i => i + new string('y', 1000)).ToArray())));
            Assert.Contains("kv.max-object-size", big.Reason);
            Assert.Contains("nothing to add", Assert.IsType<RequestFailed>(await Update(node, "sets", "s", Add())).Reason);
            Assert.Contains("datatype set", Assert.IsType<RequestFailed>(await Update(node, "sets", "s", CrdtOp.Increment(1))).Reason);
            set = Assert.IsType<OrSet>(await ReadState(node, "sets", "s", new RequestOptions { R = 3 }));
            Assert.Equal(["a", "c", "d"], set.Members.Keys.Select(Encoding.UTF8.GetString));

            // A state from a peer whose clock is at its limit for this replica's actor: the next add is refused, the vnode goes on.
            string actor = set.Clock.Keys.Single();
            var w = new List<byte> { 0x53, 1 };
            w.AddRange(BitConverter.GetBytes(1));
            w.AddRange(BitConverter.GetBytes(Encoding.UTF8.GetByteCount(actor)));
            w.AddRange(B(actor));
            w.AddRange(BitConverter.GetBytes(long.MaxValue));
            w.AddRange(BitConverter.GetBytes(0));
            var limit = OrSet.Decode(w.ToArray());
            var peer = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(limit.Encode(), CrdtValues.ContentType(Datatype.Set), 1, false)), "peer");
            var ring = (await node.GetRingAsync())!;
            foreach (var r in ring.PreferenceList(B("sets"), B("s"), 3))
                await KvPaths.Vnode(system, r.Node, r.Partition).Ask<VnodePutReply>(new VnodeApply(B("sets"), B("s"), peer, true, 5), TimeSpan.FromSeconds(5));
            Assert.Contains("cannot apply", Assert.IsType<RequestFailed>(await Update(node, "sets", "s", Add("z"))).Reason);
            // (That state claims to have seen every add of this actor and holds none of them: merged, they are removed.)
            Assert.Empty(Assert.IsType<OrSet>(await ReadState(node, "sets", "s", new RequestOptions { R = 3 })).Members);

            // Concurrent adds from many callers: none lost.
            var adds = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Update(node, "sets", "many", Add("e" + i))));
            Assert.All(adds, r => Assert.IsType<UpdateSucceeded>(r));
            Assert.Equal(100, Assert.IsType<OrSet>(await ReadState(node, "sets", "many", new RequestOptions { R = 3 })).Count);
        }
        finally
        {
            await Stop(system, dir);
        }
    }

    [Fact]
    public async Task Hashes_and_lists_through_the_actor_path()
    {
        var (system, node, dir) = await StartAsync();
        try
        {
            CrdtOp Op(CrdtOpKind kind, long amount, params string[] items) => new(kind, amount, items.Select(B).ToList());
            Assert.Equal(2, Assert.IsType<UpdateSucceeded>(await Update(node, "hashes", "h", Op(CrdtOpKind.HashSet, 0, "name", "ann", "city", "oslo"))).Number);
            Assert.Equal(5, Assert.IsType<UpdateSucceeded>(await Update(node, "hashes", "h", Op(CrdtOpKind.HashIncrement, 5, "visits"))).Number);
            Assert.Equal(1, Assert.IsType<UpdateSucceeded>(await Update(node, "hashes", "h", Op(CrdtOpKind.HashDelete, 0, "city", "nope"))).Number);
            Assert.Contains("holds a value", Assert.IsType<RequestFailed>(await Update(node, "hashes", "h", Op(CrdtOpKind.HashIncrement, 1, "name"))).Reason);
            Assert.Contains("FIELD VALUE pairs", Assert.IsType<RequestFailed>(await Update(node, "hashes", "h", Op(CrdtOpKind.HashSet, 0, "odd"))).Reason);
            var hash = Assert.IsType<OrMap>(await ReadState(node, "hashes", "h", new RequestOptions { R = 3 }));
            Assert.Equal(["name=ann", "visits=5"], hash.Present.Select(f => Encoding.UTF8.GetString(f.Key) + "=" + OrMap.Text(f.Value)));

            Assert.Equal(3, Assert.IsType<UpdateSucceeded>(await Update(node, "lists", "l", Op(CrdtOpKind.ListPushRight, 0, "b", "c", "d"))).Number);
            Assert.Equal(4, Assert.IsType<UpdateSucceeded>(await Update(node, "lists", "l", Op(CrdtOpKind.ListPushLeft, 0, "a"))).Number);
            var pop = Assert.IsType<UpdateSucceeded>(await Update(node, "lists", "l", Op(CrdtOpKind.ListPopRight, 0)));
            Assert.Equal("d", Encoding.UTF8.GetString(pop.Result!));
            Assert.Equal(1, Assert.IsType<UpdateSucceeded>(await Update(node, "lists", "l", Op(CrdtOpKind.ListRemove, 0, "b"))).Number);
            var list = Assert.IsType<OrList>(await ReadState(node, "lists", "l", new RequestOptions { R = 3 }));
            Assert.Equal(["a", "c"], list.Range(0, -1).Select(Encoding.UTF8.GetString));
            var empty = Assert.IsType<UpdateSucceeded>(await Update(node, "lists", "none", Op(CrdtOpKind.ListPopLeft, 0)));
            Assert.Null(empty.Result);
            Assert.Contains("datatype list", Assert.IsType<RequestFailed>(await Update(node, "lists", "l", Op(CrdtOpKind.HashSet, 0, "f", "v"))).Reason);
            Assert.Contains("kv rpush", Assert.IsType<RequestFailed>(await node.PutAsync("lists", "l", B("v"))).Reason);
        }
        finally
        {
            await Stop(system, dir);
        }
    }

    [Fact]
    public async Task Registers_store_typed_values_and_refuse_the_wrong_type()
    {
        var (system, node, dir) = await StartAsync();
        try
        {
            Assert.IsType<UpdateSucceeded>(await Update(node, "registers", "r", new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("12")], "int")));
            var reg = Assert.IsType<TypedRegister>(await ReadState(node, "registers", "r"));
            Assert.Equal((RegisterType.Int, "12"), (reg.Type, reg.Text));
            var bad = Assert.IsType<RequestFailed>(await Update(node, "registers", "r", new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("12x")], "int")));
            Assert.Contains("not an int", bad.Reason);
            Assert.IsType<UpdateSucceeded>(await Update(node, "registers", "r", new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("hello")], "string")));
            reg = Assert.IsType<TypedRegister>(await ReadState(node, "registers", "r", new RequestOptions { R = 3 }));
            Assert.Equal((RegisterType.String, "hello"), (reg.Type, reg.Text));
            Assert.Contains("--type", Assert.IsType<RequestFailed>(await node.PutAsync("registers", "r", B("v"))).Reason);
        }
        finally
        {
            await Stop(system, dir);
        }
    }
}
