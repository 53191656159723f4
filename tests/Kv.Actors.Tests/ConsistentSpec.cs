using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Actors.Consistent;
using Kv.Actors.Coordinators;
using Kv.Actors.Crdt;
using Akka.Actor;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>
/// Consistent namespaces (docs/consistency.md): CAS, get, put, delete and increment through Paxos
/// over the key's primaries, on in-process nodes (router, sharded proposers, vnodes on real storage).
/// </summary>
public sealed class ConsistentSpec(ITestOutputHelper log) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: log)
{
    private readonly ITestOutputHelper _log = log;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static string S(byte[]? b) => b is null ? "(absent)" : Encoding.UTF8.GetString(b);

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    private static KvNodeOptions Options(string dir)
    {
        var options = KvNodeSpec.TestOptions(dir);
        return options with
        {
            Namespaces = new Dictionary<string, NamespaceProps>(options.Namespaces)
            {
                ["cons"] = NamespaceProps.Default with { Consistent = true, Timeout = TimeSpan.FromSeconds(3) },
            },
        };
    }

    // Two-node specs: no downing (a tie would down either side), and a node stopped without leaving (as if killed).
    private static readonly Akka.Configuration.Config NoDowning = Akka.Configuration.ConfigurationFactory.ParseString("""
        akka.cluster.downing-provider-class = ""
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """);

    private async Task<(ActorSystem System, KvNode Node)> StartAsync(string dir, int port = 0, string? seed = null, bool noDowning = false)
    {
        var config = KvTestConfig.Node(port);
        var system = ActorSystem.Create("kv", noDowning ? NoDowning.WithFallback(config) : config);
        InitializeLogger(system, $"[node {port}] ");
        var cluster = ClusterExt.Get(system);
        cluster.Join(seed is null ? cluster.SelfAddress : Akka.Actor.Address.Parse(seed));
        var node = KvNode.Start(system, Options(dir));
        await KvNodeSpec.AwaitConditionAsync(async () => await node.IsServingAsync(), TimeSpan.FromSeconds(20), "the node serving");
        return (system, node);
    }

    private static async Task AwaitServing(KvNode node) =>
        await KvNodeSpec.AwaitConditionAsync(async () => await Get(node, "probe") is not RequestFailed { Code: FailureCode.Unavailable },
            TimeSpan.FromSeconds(15), "the router serving the consistent namespace");

    /// <summary>Runs <paramref name="body"/> on one node, serving, in a fresh data directory; stops it and removes the directory after.</summary>
    private async Task OnOneNodeAsync(string prefix, Func<ActorSystem, KvNode, Task> body)
    {
        string dir = Directory.CreateTempSubdirectory(prefix).FullName;
        var (system, node) = await StartAsync(dir);
        try
        {
            await AwaitServing(node);
            await body(system, node);
        }
        finally
        {
            await system.Terminate();
            await node.Stopped;
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Task<object> Ask(KvNode node, object message) => node.Router.Ask<object>(message, AskTimeout);

    private static Task<object> Cas(KvNode node, string key, string? expected, string value) =>
        Ask(node, new KvCas(B("cons"), B(key), expected is null ? null : B(expected), B(value), RequestOptions.None));

    private static Task<object> Get(KvNode node, string key) => Ask(node, new KvGet(B("cons"), B(key), RequestOptions.None));

    private static Task<object> Incr(KvNode node, string key, long by) => Ask(node, new KvUpdate(B("cons"), B(key), CrdtOp.Increment(by), RequestOptions.None));

    private static async Task<string?> Value(KvNode node, string key) => await Get(node, key) switch
    {
        GetSucceeded g => S(Assert.Single(g.Siblings).Value),
        NotFound => null,
        var other => throw new Xunit.Sdk.XunitException($"get {key}: {other}"),
    };

    [Fact]
    public async Task Cas_get_put_delete_and_increment_are_linearizable_and_concurrent_cases_have_one_winner_per_expected_value()
    {
        await OnOneNodeAsync("kv-cas-", async (system, node) =>
        {
            // CAS: absent, mismatch (the current value comes back), match.
            Assert.Equal(new CasReply(true, B("a")).Succeeded, Assert.IsType<CasReply>(await Cas(node, "k", null, "a")).Succeeded);
            var absentAgain = Assert.IsType<CasReply>(await Cas(node, "k", null, "b"));
            Assert.False(absentAgain.Succeeded);
            Assert.Equal("a", S(absentAgain.Current));
            var wrong = Assert.IsType<CasReply>(await Cas(node, "k", "x", "b"));
            Assert.False(wrong.Succeeded);
            Assert.Equal("a", S(wrong.Current));
            var swapped = Assert.IsType<CasReply>(await Cas(node, "k", "a", "b"));
            Assert.True(swapped.Succeeded);
            Assert.Equal("b", S(swapped.Current));
            Assert.Equal("b", await Value(node, "k"));
            var missing = Assert.IsType<CasReply>(await Cas(node, "nothing", "x", "y"));
            Assert.False(missing.Succeeded);
            Assert.Null(missing.Current);
            Assert.Null(await Value(node, "nothing"));

            // Put, delete, put again.
            Assert.IsType<PutSucceeded>(await node.PutAsync("cons", "k", B("c")));
            Assert.Equal("c", await Value(node, "k"));
            Assert.IsType<PutSucceeded>(await node.DeleteAsync("cons", "k"));
            Assert.IsType<NotFound>(await Get(node, "k"));
            Assert.True(Assert.IsType<CasReply>(await Cas(node, "k", null, "d")).Succeeded);

            // Increments of a decimal value; a value that is not one is refused and kept.
            Assert.Equal(1, Assert.IsType<UpdateSucceeded>(await Incr(node, "n", 1)).Number);
            Assert.Equal(42, Assert.IsType<UpdateSucceeded>(await Incr(node, "n", 41)).Number);
            Assert.Equal(40, Assert.IsType<UpdateSucceeded>(await Incr(node, "n", -2)).Number);
            Assert.Equal("40", await Value(node, "n"));
            var notNumber = Assert.IsType<RequestFailed>(await Incr(node, "k", 1));
            Assert.Contains("not a decimal", notNumber.Reason, StringComparison.Ordinal);
            Assert.Equal("d", await Value(node, "k"));
            Assert.IsType<RequestFailed>(await Incr(node, "n", long.MaxValue));
            Assert.Equal("40", await Value(node, "n"));

            // What consistent namespaces do not take, and CAS elsewhere: clear errors, nothing stored.
            var ttl = Assert.IsType<RequestFailed>(await Ask(node, new KvPut(B("cons"), B("t"), new Objects.Sibling(B("v"), "text/plain", 0, false), Objects.VersionVector.Empty, RequestOptions.None) { Ttl = TimeSpan.FromSeconds(5) }));
            Assert.Contains("TTL", ttl.Reason, StringComparison.Ordinal);
            Assert.Null(await Value(node, "t"));
            Assert.Contains("only incr/decr", Assert.IsType<RequestFailed>(await Ask(node, new KvUpdate(B("cons"), B("s"), new CrdtOp(CrdtOpKind.SetAdd, 0, [B("m")]), RequestOptions.None))).Reason, StringComparison.Ordinal);
            Assert.Contains("not consistent", Assert.IsType<RequestFailed>(await Ask(node, new KvCas(B("default"), B("k"), null, B("v"), RequestOptions.None))).Reason, StringComparison.Ordinal);

            // 100 concurrent increments: none lost, each answered with a different value (1..100).
            var increments = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Incr(node, "counter", 1)));
            Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), increments.Select(r => Assert.IsType<UpdateSucceeded>(r).Number).Order());
            Assert.Equal("100", await Value(node, "counter"));

            // 5 tasks x 50 CAS-increments (read, then CAS from it): exactly one winner per expected value,
            // and the final value is the number of successes.
            Assert.True(Assert.IsType<CasReply>(await Cas(node, "cas-counter", null, "0")).Succeeded);
            var winners = new ConcurrentDictionary<long, int>();
            int successes = 0;
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(async () =>
            {
                for (int i = 0; i < 50; i++)
                {
                    long current = long.Parse((await Value(node, "cas-counter"))!, CultureInfo.InvariantCulture);
                    var reply = Assert.IsType<CasReply>(await Cas(node, "cas-counter", current.ToString(CultureInfo.InvariantCulture), (current + 1).ToString(CultureInfo.InvariantCulture)));
                    if (reply.Succeeded)
                    {
                        Interlocked.Increment(ref successes);
                        winners.AddOrUpdate(current, 1, (_, n) => n + 1);
                    }
                    else
                    {
                        Assert.NotEqual(current.ToString(CultureInfo.InvariantCulture), S(reply.Current)); // a mismatch shows another value
                    }
                }
            })));
            _log.WriteLine($"250 CAS-increments from 5 tasks: {successes} succeeded in {sw.ElapsedMilliseconds} ms");
            Assert.All(winners, w => Assert.Equal(1, w.Value));
            Assert.True(successes >= 50, $"{successes} successes");
            Assert.Equal(successes.ToString(CultureInfo.InvariantCulture), await Value(node, "cas-counter"));
            Assert.Equal(Enumerable.Range(0, successes).Select(i => (long)i), winners.Keys.Order());
        });
    }

    [Fact]
    public async Task Operations_queued_on_a_key_go_together_in_a_round_and_each_sees_the_state_its_predecessors_left()
    {
        await OnOneNodeAsync("kv-cas-batch-", async (system, node) =>
        {
            for (int round = 0; round < 5; round++)
            {
                string key = "batch" + round.ToString(CultureInfo.InvariantCulture);
                // Sent at once, in this order (the router forwards in arrival order): the first runs alone, the rest queue
                // behind it and go in one or two rounds; the answers are those of running them one by one.
                var calls = new List<Task<object>>
                {
                    Cas(node, key, null, "1"),
                    Incr(node, key, 1),
                    Get(node, key),
                    Cas(node, key, "1", "z"),
                    Cas(node, key, "2", "x"),
                    Incr(node, key, 1),
                    Get(node, key),
                    Ask(node, new KvDelete(B("cons"), B(key), Objects.VersionVector.Empty, RequestOptions.None)),
                    Get(node, key),
                    Cas(node, key, null, "7"),
                    Incr(node, key, 3),
                };
                var r = await Task.WhenAll(calls);
                Assert.True(Assert.IsType<CasReply>(r[0]).Succeeded);
                Assert.Equal(2, Assert.IsType<UpdateSucceeded>(r[1]).Number);
                Assert.Equal("2", S(Assert.Single(Assert.IsType<GetSucceeded>(r[2]).Siblings).Value));
                var stale = Assert.IsType<CasReply>(r[3]);
                Assert.False(stale.Succeeded);
                Assert.Equal("2", S(stale.Current));
                Assert.True(Assert.IsType<CasReply>(r[4]).Succeeded);
                Assert.Contains("not a decimal", Assert.IsType<RequestFailed>(r[5]).Reason, StringComparison.Ordinal);
                Assert.Equal("x", S(Assert.Single(Assert.IsType<GetSucceeded>(r[6]).Siblings).Value));
                Assert.IsType<PutSucceeded>(r[7]);
                Assert.IsType<NotFound>(r[8]);
                Assert.True(Assert.IsType<CasReply>(r[9]).Succeeded);
                Assert.Equal(10, Assert.IsType<UpdateSucceeded>(r[10]).Number);
                Assert.Equal("10", await Value(node, key));
            }

            // More callers than a round takes (PaxosOperation.MaxBatch): 3 x 40 increments at once, none lost or doubled.
            var many = await Task.WhenAll(Enumerable.Range(0, 3 * 40).Select(_ => Incr(node, "many", 1)));
            Assert.Equal(Enumerable.Range(1, 120).Select(i => (long)i), many.Select(m => Assert.IsType<UpdateSucceeded>(m).Number).Order());
            Assert.Equal("120", await Value(node, "many"));
        });
    }

    [Fact]
    public async Task A_key_used_again_at_once_skips_the_prepare_round_and_an_accept_carries_the_commit_before_it()
    {
        await OnOneNodeAsync("kv-cas-warm-", async (system, node) =>
        {
            var ring = (await node.GetRingAsync())!;
            // The acceptor state, read by a prepare at a ballot too low to change it.
            async Task<PaxosPromise> StateAsync(string key, (int Partition, string Node) at) =>
                await KvPaths.Vnode(system, at.Node, at.Partition).Ask<PaxosPromise>(new PaxosPrepare(B("cons"), B(key), new Ballot(1, "low"), 9), AskTimeout);

            // A cold round (prepare, accept) leaves the proposer's next ballot promised on its acceptors.
            Assert.True(Assert.IsType<CasReply>(await Cas(node, "warm", null, "a")).Succeeded);
            var primaries = ring.PreferenceList(B("cons"), B("warm"), 3).Select(r => (r.Partition, r.Node)).ToList();
            var after1 = await StateAsync("warm", primaries[0]);
            var chosen1 = Ballot.Max(after1.AcceptedBallot, after1.CommittedBallot);
            Assert.True(after1.Promised > chosen1, $"promised {after1.Promised}, chosen at {chosen1}: the next ballot was not promised");
            // The next operation proposes at exactly that ballot: no prepare round (which would take a new, higher one).
            Assert.True(Assert.IsType<CasReply>(await Cas(node, "warm", "a", "b")).Succeeded);
            var after2 = await StateAsync("warm", primaries[0]);
            Assert.Equal(after1.Promised, Ballot.Max(after2.AcceptedBallot, after2.CommittedBallot));
            Assert.Equal("b", await Value(node, "warm"));

            // An acceptor: an accept promising the next ballot, then an accept at it carrying the commit of the first.
            var vnode = KvPaths.Vnode(system, primaries[0].Node, primaries[0].Partition);
            long t = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() + 10_000_000;
            Ballot b1 = new(t, "test"), b2 = new(t + 1, "test"), b3 = new(t + 2, "test");
            var v1 = PaxosValue.Absent.After(1, 0, true, B("v1"), "text/plain", 1);
            var v2 = v1.After(2, 0, true, B("v2"), "text/plain", 2);
            var a1 = await vnode.Ask<PaxosAccepted>(new PaxosPropose(B("cons"), B("carried"), b1, v1, 1) { Next = b2 }, AskTimeout);
            Assert.True(a1.Ok);
            Assert.Equal(b2, a1.Promised);
            var low = await vnode.Ask<PaxosAccepted>(new PaxosPropose(B("cons"), B("carried"), b1, v2, 2), AskTimeout);
            Assert.False(low.Ok); // below the promised next ballot
            Assert.True((await vnode.Ask<PaxosAccepted>(new PaxosPropose(B("cons"), B("carried"), b2, v2, 3) { Next = b3, Commit = b1 }, AskTimeout)).Ok);
            var carried = await StateAsync("carried", primaries[0]);
            Assert.Equal((b1, "v1"), (carried.CommittedBallot, S(carried.Committed!.Value)));
            Assert.Equal((b2, "v2"), (carried.AcceptedBallot, S(carried.Accepted!.Value)));
            Assert.Equal(b3, carried.Promised);
            // A carried commit of a ballot this acceptor did not accept at marks nothing.
            Assert.True((await vnode.Ask<PaxosAccepted>(new PaxosPropose(B("cons"), B("carried"), b3, v2, 4) { Commit = new Ballot(t + 1, "other") }, AskTimeout)).Ok);
            Assert.Equal(b1, (await StateAsync("carried", primaries[0])).CommittedBallot);
        });
    }

    [Fact]
    public async Task Acceptor_state_survives_a_restart_and_an_accepted_value_found_is_finished()
    {
        string dir = Directory.CreateTempSubdirectory("kv-cas-").FullName;
        int port = KvNodeSpec.FreePort();
        var (system, node) = await StartAsync(dir, port);
        try
        {
            await AwaitServing(node);
            Assert.True(Assert.IsType<CasReply>(await Cas(node, "kept", null, "v1")).Succeeded);
            var ring = (await node.GetRingAsync())!;
            var primaries = ring.PreferenceList(B("cons"), B("open"), 3);
            var high = new Ballot(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() + 10_000_000, "test-proposer");
            var value = PaxosValue.Absent.After(7, 0, true, B("zz"), "text/plain", 1);
            // Accepted by a majority (chosen) at a high ballot, but its proposer died before it committed.
            foreach (var r in primaries.Take(2))
                Assert.True((await KvPaths.Vnode(system, r.Node, r.Partition).Ask<PaxosAccepted>(new PaxosPropose(B("cons"), B("open"), high, value, 1), AskTimeout)).Ok);
            var first = KvPaths.Vnode(system, primaries[0].Node, primaries[0].Partition);

            await system.Terminate();
            await node.Stopped;
            (system, node) = await StartAsync(dir, port);
            await AwaitServing(node);

            // The promise and the accepted value came back from the vnode's engine: a lower ballot is refused.
            first = KvPaths.Vnode(system, primaries[0].Node, primaries[0].Partition);
            var promise = await first.Ask<PaxosPromise>(new PaxosPrepare(B("cons"), B("open"), new Ballot(1, "low"), 2), AskTimeout);
            Assert.False(promise.Ok);
            Assert.Equal(high, promise.Promised);
            Assert.Equal(high, promise.AcceptedBallot);
            Assert.Equal("zz", S(promise.Accepted!.Value));
            Assert.Equal("v1", await Value(node, "kept"));
            // A read finds the accepted value newer than any commit and finishes it (commits it everywhere).
            Assert.Equal("zz", await Value(node, "open"));
            foreach (var r in primaries)
            {
                await KvNodeSpec.AwaitConditionAsync(async () =>
                {
                    var p = await KvPaths.Vnode(system, r.Node, r.Partition).Ask<PaxosPromise>(new PaxosPrepare(B("cons"), B("open"), new Ballot(2, "low"), 3), AskTimeout);
                    return p.Committed is { } c && S(c.Value) == "zz";
                }, TimeSpan.FromSeconds(5), $"partition {r.Partition} holding the finished value as committed");
            }
            Assert.False(Assert.IsType<CasReply>(await Cas(node, "open", null, "other")).Succeeded);
        }
        finally
        {
            await system.Terminate();
            await node.Stopped;
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Without_a_majority_of_the_primaries_an_operation_fails_fast_as_unavailable()
    {
        string dirA = Directory.CreateTempSubdirectory("kv-cas-a-").FullName;
        string dirB = Directory.CreateTempSubdirectory("kv-cas-b-").FullName;
        int portA = KvNodeSpec.FreePort();
        var (systemA, nodeA) = await StartAsync(dirA, portA, noDowning: true);
        await AwaitServing(nodeA);
        // Written while node A owns every partition: the acceptor states move with the handoff to B.
        for (int i = 0; i < 8; i++)
            Assert.True(Assert.IsType<CasReply>(await Cas(nodeA, $"pre{i}", null, "p")).Succeeded);
        var (systemB, nodeB) = await StartAsync(dirB, seed: $"akka.tcp://kv@127.0.0.1:{portA}", noDowning: true);
        try
        {
            string a = nodeA.Self, b = nodeB.Self;
            // Both nodes own partitions (the claim spread them) and every partition is settled.
            Ring.Ring ring = null!;
            await KvNodeSpec.AwaitConditionAsync(async () => (ring = (await nodeA.GetRingAsync())!) is not null
                && ring.Owners.Contains(b) && ring.Owners.Contains(a) && ring.Owners.SequenceEqual(ring.Pending),
                TimeSpan.FromSeconds(30), "a ring over both nodes, settled");
            await AwaitServing(nodeA);
            string? onB = null, onA = null;
            for (int i = 0; onB is null || onA is null; i++)
            {
                var owners = ring.PreferenceList(B("cons"), B($"k{i}"), 3).Select(r => r.Node).ToList();
                if (owners.Count(o => o == b) >= 2)
                    onB ??= $"k{i}";
                else
                    onA ??= $"k{i}";
            }
            await KvNodeSpec.AwaitConditionAsync(async () => await Cas(nodeA, onB, null, "v") is CasReply { Succeeded: true }, TimeSpan.FromSeconds(15), "a CAS while both nodes are up");
            int moved = 0;
            for (int i = 0; i < 8; i++)
            {
                moved += ring.PreferenceList(B("cons"), B($"pre{i}"), 3).Count(r => r.Node == b) >= 2 ? 1 : 0;
                var swap = Assert.IsType<CasReply>(await Cas(nodeB, $"pre{i}", "p", "q"));
                Assert.True(swap.Succeeded, $"pre{i}: {S(swap.Current)}");
            }
            Assert.True(moved > 0, "no key with a majority of its acceptors handed off to B");
            Assert.True(Assert.IsType<CasReply>(await Cas(nodeA, onA, null, "v")).Succeeded);

            await systemB.Terminate();
            await KvNodeSpec.AwaitConditionAsync(() => Task.FromResult(
                PaxosOperation.ReachablePrimaries(systemA, [(0, b)]) == 0), TimeSpan.FromSeconds(20), "node B seen gone");
            var sw = Stopwatch.StartNew();
            var reply = await Cas(nodeA, onB, "v", "w");
            if (reply is not RequestFailed)
            {
                var now = (await nodeA.GetRingAsync())!;
                Assert.Fail($"{reply} for {onB}; primaries then {string.Join(",", ring.PreferenceList(B("cons"), B(onB), 3))}, now {string.Join(",", now.PreferenceList(B("cons"), B(onB), 3))}; members {string.Join(",", ClusterExt.Get(systemA).State.Members)}");
            }
            var failed = Assert.IsType<RequestFailed>(reply);
            var elapsed = sw.Elapsed;
            Assert.Equal(FailureCode.Unavailable, failed.Code);
            Assert.Contains("majority", failed.Reason, StringComparison.Ordinal);
            Assert.True(elapsed < TimeSpan.FromSeconds(1), $"took {elapsed}");
            Assert.Equal(FailureCode.Unavailable, Assert.IsType<RequestFailed>(await Get(nodeA, onB)).Code);
            // A key with a majority on the live node still works (proposed from here when its proposer's node is away).
            Assert.True(Assert.IsType<CasReply>(await Cas(nodeA, onA, "v", "w")).Succeeded);
            Assert.Equal("w", await Value(nodeA, onA));
        }
        finally
        {
            await systemB.Terminate();
            await systemA.Terminate();
            await nodeA.Stopped;
            await nodeB.Stopped;
            Directory.Delete(dirA, recursive: true);
            Directory.Delete(dirB, recursive: true);
        }
    }
}
