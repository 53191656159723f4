using System.Text;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Scans;
using Kv.Actors.Vnode;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>The pure parts of scans: coverage plans, continuation tokens, ranges.</summary>
public sealed class ScanPlanSpec
{
    private static readonly byte[] Ns = "default"u8.ToArray();

    [Theory]
    [InlineData(1, 16, 3)]
    [InlineData(2, 16, 3)]
    [InlineData(3, 32, 3)]
    [InlineData(5, 32, 2)]
    [InlineData(4, 16, 1)]
    public void A_coverage_plan_asks_one_vnode_holding_it_for_every_partition_exactly_once(int nodes, int q, int n)
    {
        var names = Enumerable.Range(1, nodes).Select(i => $"n{i}").ToList();
        var ring = Ring.Ring.Create(names, q);
        for (int start = 0; start < q; start++)
        {
            var (groups, uncovered) = ScanPlan.Make(ring, n, _ => true, new HashSet<(string, int)>(), start);
            Assert.Null(uncovered);
            var partitions = groups.SelectMany(g => g.Partitions).Order().ToList();
            Assert.Equal(Enumerable.Range(0, q), partitions);
            foreach (var g in groups)
            {
                Assert.Equal(ring.Owners[g.Vnode], g.Node);
                Assert.All(g.Partitions, p => Assert.InRange(((g.Vnode - p) % q + q) % q, 0, n - 1)); // the vnode holds p's keys
            }
            Assert.InRange(groups.Count, 1, (q + n - 1) / n + 1); // about Q/n vnodes, not Q
            Assert.Equal(groups.Count, groups.Select(g => g.Vnode).Distinct().Count());
        }
    }

    [Fact]
    public void A_plan_avoids_unusable_nodes_excluded_vnodes_and_lost_partitions_and_says_which_partition_it_cannot_cover()
    {
        var ring = Ring.Ring.Create(["a", "b", "c"], 16);
        var (groups, uncovered) = ScanPlan.Make(ring, 3, node => node != "b", new HashSet<(string, int)>(), 5);
        Assert.Null(uncovered);
        Assert.DoesNotContain(groups, g => g.Node == "b");
        Assert.Equal(16, groups.SelectMany(g => g.Partitions).Distinct().Count());

        var excluded = new HashSet<(string, int)> { (ring.Owners[4], 4) };
        (groups, _) = ScanPlan.Make(ring, 3, _ => true, excluded, 0);
        Assert.DoesNotContain(groups, g => g.Vnode == 4);

        // n_val 1: a partition's keys are on its own vnode only; without it nothing can answer.
        (groups, uncovered) = ScanPlan.Make(ring, 1, _ => true, new HashSet<(string, int)> { (ring.Owners[7], 7) }, 0);
        Assert.Equal(7, uncovered);
        Assert.Empty(groups);

        // A lost partition's vnode (maybe still filling) is the last resort.
        var lost = ring.Reclaim(["a", "c"], new HashSet<string>(["a", "c"]), [], 4);
        Assert.NotEmpty(lost.Lost);
        (groups, uncovered) = ScanPlan.Make(lost, 3, _ => true, new HashSet<(string, int)>(), 0);
        Assert.Null(uncovered);
        Assert.DoesNotContain(groups, g => lost.Lost.Contains(g.Vnode) && g.Partitions.Any(p => Enumerable.Range(0, 3).Any(d => !lost.Lost.Contains((p + d) % 16))));
    }

    [Fact]
    public void A_token_continues_only_the_scan_it_came_from_and_a_garbled_one_is_refused_clearly()
    {
        var range = ScanRange.WithPrefix("user/"u8.ToArray());
        string token = ScanToken.Encode(Ns, range, "user/042"u8.ToArray());
        Assert.Equal("user/042"u8.ToArray(), ScanToken.Decode(token, Ns, range));
        Assert.Equal("user/042"u8.ToArray(), ScanToken.Decode(token, Ns, ScanRange.WithPrefix("user/"u8.ToArray()))); // same range, another instance
        Assert.Contains("namespace 'default', not 'other'", Assert.Throws<FormatException>(() => ScanToken.Decode(token, "other"u8.ToArray(), range)).Message, StringComparison.Ordinal);
        Assert.Contains("another prefix or other bounds", Assert.Throws<FormatException>(() => ScanToken.Decode(token, Ns, ScanRange.WithPrefix("user"u8.ToArray()))).Message, StringComparison.Ordinal);
        Assert.Contains("other bounds", Assert.Throws<FormatException>(() => ScanToken.Decode(token, Ns, ScanRange.Between("user/"u8.ToArray(), null))).Message, StringComparison.Ordinal);
        char flipped = token[10] == 'A' ? 'B' : 'A';
        Assert.StartsWith("bad continuation token", Assert.Throws<FormatException>(() => ScanToken.Decode(token[..10] + flipped + token[11..], Ns, range)).Message, StringComparison.Ordinal);
        Assert.Contains("not base64", Assert.Throws<FormatException>(() => ScanToken.Decode("not a token!", Ns, range)).Message, StringComparison.Ordinal);
        Assert.StartsWith("bad continuation token", Assert.Throws<FormatException>(() => ScanToken.Decode(token[..8], Ns, range)).Message, StringComparison.Ordinal);
        Assert.StartsWith("bad continuation token", Assert.Throws<FormatException>(() => ScanToken.Decode("", Ns, range)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ranges_check_their_bounds_and_map_to_the_namespaces_storage_keys()
    {
        Assert.Null(ScanRange.All.Invalid(100));
        Assert.Contains("start must not come after end", ScanRange.Between("b"u8.ToArray(), "a"u8.ToArray()).Invalid(100), StringComparison.Ordinal);
        Assert.Null(ScanRange.Between("a"u8.ToArray(), "a"u8.ToArray()).Invalid(100)); // empty, not wrong
        Assert.Contains("not both", new ScanRange("p"u8.ToArray(), "a"u8.ToArray(), null).Invalid(100), StringComparison.Ordinal);
        Assert.Contains("must not be empty", ScanRange.WithPrefix([]).Invalid(100), StringComparison.Ordinal);
        Assert.Contains("longer than a key can be", ScanRange.Between(new byte[101], null).Invalid(100), StringComparison.Ordinal);

        byte[] Storage(string key) => VnodeActor.StorageKey(Ns, Encoding.UTF8.GetBytes(key));
        bool In((byte[] Lower, byte[] Upper) b, string key) => Storage(key).AsSpan().SequenceCompareTo(b.Lower) >= 0 && Storage(key).AsSpan().SequenceCompareTo(b.Upper) < 0;
        var prefix = ScanRange.WithPrefix("ab"u8.ToArray()).StorageBounds(Ns, null);
        Assert.True(In(prefix, "ab") && In(prefix, "ab\xff") && In(prefix, "abz"));
        Assert.False(In(prefix, "aa") || In(prefix, "ac") || In(prefix, "b"));
        var after = ScanRange.WithPrefix("ab"u8.ToArray()).StorageBounds(Ns, "abc"u8.ToArray());
        Assert.False(In(after, "abc") || In(after, "abb"));
        Assert.True(In(after, "abc\0") && In(after, "abd"));
        var between = ScanRange.Between("k1"u8.ToArray(), "k3"u8.ToArray()).StorageBounds(Ns, null);
        Assert.True(In(between, "k1") && In(between, "k2zz"));
        Assert.False(In(between, "k3") || In(between, "k0"));
        var all = ScanRange.All.StorageBounds(Ns, null);
        Assert.True(In(all, "a") && In(all, "\xff\xff"));
        // Nothing of another namespace, and none of the vnode's own records (0xFF...).
        Assert.True(VnodeActor.StorageKey("defaulu"u8.ToArray(), "a"u8.ToArray()).AsSpan().SequenceCompareTo(all.Upper) >= 0);
        Assert.True(VnodeActor.StorageKey("defaul"u8.ToArray(), "ta"u8.ToArray()).AsSpan().SequenceCompareTo(all.Lower) < 0);
        Assert.True(VnodeMetaKeys.TombstonePrefix.AsSpan().SequenceCompareTo(all.Upper) >= 0);
    }
}

/// <summary>Scans on in-process clusters (the node's own actor systems, real storage): paging, bad input, backpressure, churn.</summary>
public sealed class ScanSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private readonly List<ActorSystem> _systems = [];
    private readonly List<string> _dirs = [];

    private ActorSystem CreateNodeSystem()
    {
        var system = ActorSystem.Create("kv", KvTestConfig.Node());
        _systems.Add(system);
        InitializeLogger(system, $"[node {_systems.Count}] ");
        return system;
    }

    protected override void AfterAll()
    {
        foreach (var system in _systems)
            Shutdown(system, TimeSpan.FromSeconds(10));
        foreach (var dir in _dirs)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        base.AfterAll();
    }

    private (ActorSystem System, KvNode Node) StartNode(Address? join = null, Func<KvNodeOptions, KvNodeOptions>? tweak = null)
    {
        string dir = Directory.CreateTempSubdirectory("kv-scan-").FullName;
        _dirs.Add(dir);
        var system = CreateNodeSystem();
        var cluster = ClusterExt.Get(system);
        cluster.Join(join ?? cluster.SelfAddress);
        var options = KvNodeSpec.TestOptions(dir);
        return (system, KvNode.Start(system, (tweak ?? (o => o))(options)));
    }

    private static async Task<KvNode> Ready(KvNode node)
    {
        await KvNodeSpec.AwaitConditionAsync(async () => await node.GetRingAsync() is { Settled: true } && await node.IsServingAsync(), TimeSpan.FromSeconds(20), "a ring and the node serving");
        return node;
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static Task<object> Scan(KvNode node, string ns, ScanRange range, int limit, string? after = null, RequestOptions? options = null) =>
        node.Router.Ask<object>(new KvScan(B(ns), range, limit, after, options ?? RequestOptions.None), TimeSpan.FromSeconds(40));

    /// <summary>Every page of a scan: the (key, live values) in the order returned, and the pages' count.</summary>
    private static async Task<(List<(string Key, List<string> Values)> Items, int Pages)> ScanAll(Func<int, KvNode> nodeForPage, string ns, ScanRange range, int limit,
        RequestOptions? options = null, Func<int, Task>? betweenPages = null)
    {
        var items = new List<(string, List<string>)>();
        string? token = null;
        int pages = 0;
        do
        {
            var reply = await Scan(nodeForPage(pages), ns, range, limit, token, options);
            var page = Assert.IsType<ScanPage>(reply);
            Assert.InRange(page.Items.Count, 0, limit);
            items.AddRange(page.Items.Select(i => (Encoding.UTF8.GetString(i.Key), ScanLiveness.Shown(i.Object).Select(v => Encoding.UTF8.GetString(v.Value)).Order(StringComparer.Ordinal).ToList())));
            token = page.NextToken;
            pages++;
            if (betweenPages is not null && token is not null)
                await betweenPages(pages);
        }
        while (token is not null);
        return (items, pages);
    }

    private static void AssertExactlyOnceInOrder(IReadOnlyList<string> expected, IReadOnlyList<string> got, string what)
    {
        var doubled = got.GroupBy(k => k).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        var missing = expected.Except(got).ToList();
        var extra = got.Except(expected).ToList();
        Assert.True(doubled.Count == 0 && missing.Count == 0 && extra.Count == 0,
            $"{what}: {doubled.Count} doubled ({string.Join(",", doubled.Take(5))}), {missing.Count} missing ({string.Join(",", missing.Take(5))}), {extra.Count} not expected ({string.Join(",", extra.Take(5))})");
        Assert.Equal(expected, got); // and in key order
    }

    [Fact]
    public async Task Scans_page_in_key_order_leave_out_tombstones_show_siblings_read_at_quorum_and_refuse_bad_input()
    {
        var (_, node) = StartNode(tweak: o => o with { TombstoneGrace = TimeSpan.FromMinutes(5) });
        await Ready(node);
        var w3 = new RequestOptions { W = 3, DW = 3 };
        for (int i = 0; i < 60; i++)
            Assert.IsType<PutSucceeded>(await node.PutAsync("default", $"user/{i:D3}", B($"v{i}"), options: w3));
        for (int i = 0; i < 20; i++)
            Assert.IsType<PutSucceeded>(await node.PutAsync("default", $"other/{i:D2}", B("o"), options: w3));
        Assert.IsType<PutSucceeded>(await node.PutAsync("lww", "user/000", B("not default"), options: w3));
        // Five deleted (tombstones, kept: the grace is long), one with two siblings (two blind writes).
        foreach (int i in new[] { 3, 10, 11, 40, 59 })
        {
            var got = Assert.IsType<GetSucceeded>(await node.GetAsync("default", $"user/{i:D3}"));
            Assert.IsType<PutSucceeded>(await node.DeleteAsync("default", $"user/{i:D3}", got.Context, w3));
        }
        Assert.IsType<PutSucceeded>(await node.PutAsync("default", "user/020", B("v20b"), options: w3));
        var live = Enumerable.Range(0, 60).Except([3, 10, 11, 40, 59]).Select(i => $"user/{i:D3}").ToList();

        // Paged by 7: every live key of the prefix once, in order, with its siblings; nothing outside.
        var (items, pages) = await ScanAll(_ => node, "default", ScanRange.WithPrefix(B("user/")), 7);
        AssertExactlyOnceInOrder(live, items.Select(i => i.Key).ToList(), "prefix scan");
        Assert.Equal((live.Count + 6) / 7, pages);
        Assert.Equal(["v20", "v20b"], items.Single(i => i.Key == "user/020").Values);
        Assert.All(items.Where(i => i.Key != "user/020"), i => Assert.Equal([$"v{int.Parse(i.Key[5..])}"], i.Values));

        // One page for the whole prefix: no token when nothing follows.
        var whole = Assert.IsType<ScanPage>(await Scan(node, "default", ScanRange.WithPrefix(B("user/")), 1000));
        Assert.Null(whole.NextToken);
        Assert.Equal(live.Count, whole.Items.Count);

        // [start, end): start included, end not.
        (items, _) = await ScanAll(_ => node, "default", ScanRange.Between(B("user/010"), B("user/021")), 4);
        AssertExactlyOnceInOrder(live.Where(k => string.CompareOrdinal(k, "user/010") >= 0 && string.CompareOrdinal(k, "user/021") < 0).ToList(), items.Select(i => i.Key).ToList(), "range scan");
        (items, _) = await ScanAll(_ => node, "default", ScanRange.All, 1000);
        Assert.Equal(80 - 5, items.Count);
        Assert.Empty(Assert.IsType<ScanPage>(await Scan(node, "default", ScanRange.Between(B("user/010"), B("user/010")), 10)).Items);

        // R = 3: each key read at quorum (values as a get returns them).
        (items, _) = await ScanAll(_ => node, "default", ScanRange.WithPrefix(B("user/01")), 3, new RequestOptions { R = 3 });
        AssertExactlyOnceInOrder(live.Where(k => k.StartsWith("user/01", StringComparison.Ordinal)).ToList(), items.Select(i => i.Key).ToList(), "quorum scan");

        // Another namespace's keys are its own.
        var lww = Assert.IsType<ScanPage>(await Scan(node, "lww", ScanRange.All, 10));
        Assert.Equal(["user/000"], lww.Items.Select(i => Encoding.UTF8.GetString(i.Key)));
        Assert.Equal(["not default"], lww.Items[0].Object.Values.Select(v => Encoding.UTF8.GetString(v.Value)));

        // Bad input: a clear error, nothing started.
        var first = Assert.IsType<ScanPage>(await Scan(node, "default", ScanRange.WithPrefix(B("user/")), 5));
        string token = first.NextToken!;
        async Task<RequestFailed> Refused(object reply, FailureCode code, string says)
        {
            var failed = Assert.IsType<RequestFailed>(await Task.FromResult(reply));
            Assert.Equal(code, failed.Code);
            Assert.Contains(says, failed.Reason, StringComparison.Ordinal);
            return failed;
        }
        await Refused(await Scan(node, "default", ScanRange.WithPrefix(B("user/")), 5, token[..^3] + "AAA"), FailureCode.InvalidRequest, "bad continuation token");
        await Refused(await Scan(node, "default", ScanRange.WithPrefix(B("user/")), 5, "%%%"), FailureCode.InvalidRequest, "not base64");
        await Refused(await Scan(node, "lww", ScanRange.WithPrefix(B("user/")), 5, token), FailureCode.InvalidRequest, "namespace 'default', not 'lww'");
        await Refused(await Scan(node, "default", ScanRange.WithPrefix(B("other/")), 5, token), FailureCode.InvalidRequest, "other bounds");
        await Refused(await Scan(node, "default", ScanRange.Between(B("b"), B("a")), 5), FailureCode.InvalidRequest, "start must not come after end");
        await Refused(await Scan(node, "default", ScanRange.All, 0), FailureCode.InvalidRequest, "limit must be 1..10000 (got 0)");
        await Refused(await Scan(node, "default", ScanRange.All, 10_001), FailureCode.InvalidRequest, "limit must be 1..10000 (got 10001)");
        await Refused(await Scan(node, "nope", ScanRange.All, 5), FailureCode.UnknownNamespace, "unknown namespace 'nope'");
        await Refused(await Scan(node, "default", new ScanRange(B("a"), B("a"), null), 5), FailureCode.InvalidRequest, "not both");
        await Refused(await Scan(node, "default", ScanRange.All, 5, options: new RequestOptions { R = 4 }), FailureCode.InvalidRequest, "r = 4");
        // The token still works after all that.
        var second = Assert.IsType<ScanPage>(await Scan(node, "default", ScanRange.WithPrefix(B("user/")), 5, token));
        Assert.Equal(live.Skip(5).Take(5), second.Items.Select(i => Encoding.UTF8.GetString(i.Key)));

        // A value with a TTL is shown until it expires (the skew rule: kv.ttl.clock-skew-tolerance, 1 s, early), then left out.
        var ttlPut = new KvPut(B("default"), B("ttl/a"), new Sibling(B("short"), "", 0, false), VersionVector.Empty, w3) { Ttl = TimeSpan.FromMilliseconds(2500) };
        Assert.IsType<PutSucceeded>(await node.Router.Ask<object>(ttlPut, TimeSpan.FromSeconds(10)));
        Assert.IsType<PutSucceeded>(await node.PutAsync("default", "ttl/b", B("stays"), options: w3));
        var withTtl = Assert.IsType<ScanPage>(await Scan(node, "default", ScanRange.WithPrefix(B("ttl/")), 10));
        Assert.Equal(["ttl/a", "ttl/b"], withTtl.Items.Select(i => Encoding.UTF8.GetString(i.Key)));
        await KvNodeSpec.AwaitConditionAsync(async () => Assert.IsType<ScanPage>(await Scan(node, "default", ScanRange.WithPrefix(B("ttl/")), 10)).Items.Count == 1,
            TimeSpan.FromSeconds(5), "the expired key left out");
        Assert.Equal(["ttl/b"], Assert.IsType<ScanPage>(await Scan(node, "default", ScanRange.WithPrefix(B("ttl/")), 10)).Items.Select(i => Encoding.UTF8.GetString(i.Key)));
    }

    [Fact]
    public async Task A_vnode_streams_a_scan_only_as_fast_as_it_is_asked_and_serves_gets_meanwhile()
    {
        var (system, node) = StartNode();
        await Ready(node);
        for (int i = 0; i < 40; i++)
            Assert.IsType<PutSucceeded>(await node.PutAsync("default", $"k{i:D2}", B($"v{i}"), options: new RequestOptions { W = 3, DW = 3 }));
        var ring = (await node.GetRingAsync())!;
        var probe = CreateTestProbe(system);
        var vnode = KvPaths.Vnode(system, node.Self, 0);
        var (lower, upper) = ScanRange.All.StorageBounds(B("default"), null);
        // Vnode 0 holds the keys of partitions 14, 15 and 0 (n_val 3 on 16): asked for all three.
        int[] partitions = [14, 15, 0];
        var expected = Enumerable.Range(0, 40).Select(i => $"k{i:D2}").Where(k => partitions.Contains(KeyHash.PartitionOf(B("default"), B(k), ring.Size))).ToList();
        Assert.True(expected.Count >= 3, $"enough keys on vnode 0 ({expected.Count})");
        vnode.Tell(new VnodeScan(1, B("default"), partitions, ring.Size, lower, upper, 2, 1 << 20), probe.Ref);
        var chunk = probe.ExpectMsg<VnodeScanChunk>(TimeSpan.FromSeconds(5));
        Assert.Equal(expected.Take(2), chunk.Items.Select(i => Encoding.UTF8.GetString(i.Key)));
        Assert.False(chunk.Done);
        var cursor = probe.LastSender;
        // Nothing more until asked, and the vnode answers a get while its scan is open.
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        vnode.Tell(new VnodeGet(B("default"), B(expected[0]), 5), probe.Ref);
        Assert.True(probe.ExpectMsg<VnodeGetReply>(TimeSpan.FromSeconds(5)).Found);
        var got = chunk.Items.Select(i => Encoding.UTF8.GetString(i.Key)).ToList();
        while (!chunk.Done)
        {
            cursor.Tell(new VnodeScanNext(1, false), probe.Ref);
            chunk = probe.ExpectMsg<VnodeScanChunk>(TimeSpan.FromSeconds(5));
            Assert.InRange(chunk.Items.Count, 0, 2);
            got.AddRange(chunk.Items.Select(i => Encoding.UTF8.GetString(i.Key)));
        }
        Assert.Equal(expected, got);
        // A request it cannot serve is answered with an error, not a crash.
        vnode.Tell(new VnodeScan(2, B("default"), [99], ring.Size, lower, upper, 2, 1 << 20), probe.Ref);
        Assert.Contains("outside the ring", probe.ExpectMsg<VnodeScanChunk>(TimeSpan.FromSeconds(5)).Error, StringComparison.Ordinal);
        // A stopped stream ends its cursor.
        vnode.Tell(new VnodeScan(3, B("default"), partitions, ring.Size, lower, upper, 1, 1 << 20), probe.Ref);
        probe.ExpectMsg<VnodeScanChunk>(TimeSpan.FromSeconds(5));
        var third = probe.LastSender;
        probe.Watch(third);
        third.Tell(new VnodeScanNext(3, true), probe.Ref);
        probe.ExpectTerminated(third, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Scan_under_churn_a_scan_while_a_node_joins_returns_every_key_of_the_prefix_exactly_once()
    {
        // Transfers throttled (small batches, 16 KiB/s each) so that they take seconds and many pages are read meanwhile.
        static KvNodeOptions Slow(KvNodeOptions o) => o with { Handoff = o.Handoff with { BatchBytes = 2048, MaxBytesPerSecond = 16384 } };
        var (systemA, a) = StartNode(tweak: Slow);
        await Ready(a);
        var w3 = new RequestOptions { W = 3, DW = 3 };
        var keys = Enumerable.Range(0, 500).Select(i => $"scan/{i:D4}").ToList();
        foreach (var key in keys)
            Assert.IsType<PutSucceeded>(await a.PutAsync("default", key, B("v-" + key), options: w3));
        for (int i = 0; i < 100; i++)
            Assert.IsType<PutSucceeded>(await a.PutAsync("default", $"sc/{i:D3}", B("outside"), options: w3));

        // Writes to other keys go on all along.
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    await a.PutAsync("default", $"zz/{i}", B("w"));
                }
                catch (AskTimeoutException)
                {
                }
                await Task.Delay(50);
            }
        });

        KvNode? b = null;
        var versions = new HashSet<long>();
        int unsettledPages = 0, scans = 0, switchesMidScan = 0;
        IReadOnlyList<string>? owners = null;
        async Task Observe(int page)
        {
            var ring = (await a.GetRingAsync())!;
            versions.Add(ring.Version);
            if (!ring.Settled)
                unsettledPages++;
            if (page > 1 && owners is not null && !owners.SequenceEqual(ring.Owners))
                switchesMidScan++; // a partition changed owner between two pages of one scan
            owners = ring.Owners;
            if (scans == 0 && page == 2 && b is null)
                b = StartNode(ClusterExt.Get(systemA).SelfAddress, Slow).Node; // joins while the first scan is under way
            await Task.Delay(20);
        }
        // Pages alternate between a and (once it serves) b: a token made on one node continues on the other.
        KvNode NodeFor(int page) => page % 2 == 1 && b is not null && b.IsServingAsync().Result ? b : a;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        bool settledScan = false;
        while (!settledScan)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the ring settled within 60 s ({scans} scans)");
            bool settledBefore = b is not null && await b.GetRingAsync() is { Settled: true } r && r.Members.Count == 2 && (await a.GetRingAsync())!.Settled;
            var (items, pages) = await ScanAll(NodeFor, "default", ScanRange.WithPrefix(B("scan/")), 23, betweenPages: Observe);
            AssertExactlyOnceInOrder(keys, items.Select(i => i.Key).ToList(), $"scan {scans + 1} ({pages} pages)");
            Assert.All(items, i => Assert.Equal(["v-" + i.Key], i.Values));
            scans++;
            settledScan = settledBefore;
        }
        await stop.CancelAsync();
        await writer;
        var final = (await a.GetRingAsync())!;
        Assert.Contains(b!.Self, final.Owners); // the new node owns partitions now: they moved during the scans
        Assert.True(unsettledPages > 0, "some pages were read while partitions were being handed off");
        Assert.True(switchesMidScan > 0, "partitions changed owner between pages of a scan");
        Sys.Log.Info($"{scans} full scans of 500 keys in pages of 23; ring versions seen {versions.Count}; pages read while transfers were pending: {unsettledPages}; owner switches between pages of a scan: {switchesMidScan}");

        // And while a node leaves: b hands everything back to a.
        var leaving = b.LeaveAsync(TimeSpan.FromSeconds(60));
        int leaveScans = 0;
        do
        {
            var (items, _) = await ScanAll(_ => a, "default", ScanRange.WithPrefix(B("scan/")), 50, betweenPages: _ => Task.Delay(10));
            AssertExactlyOnceInOrder(keys, items.Select(i => i.Key).ToList(), $"scan {leaveScans + 1} while b leaves");
            leaveScans++;
        }
        while (!leaving.IsCompleted);
        await leaving;
        var (after, _) = await ScanAll(_ => a, "default", ScanRange.WithPrefix(B("scan/")), 100);
        AssertExactlyOnceInOrder(keys, after.Select(i => i.Key).ToList(), "scan after b left");
        Sys.Log.Info($"{leaveScans} full scans while b left");
    }

    [Fact]
    public async Task A_scan_after_a_node_is_gone_for_good_reads_around_the_vnodes_still_filling()
    {
        // Fills throttled (one slot, 1 KiB/s) so that the taken-over vnodes stay unsynced for the test.
        static KvNodeOptions Slow(KvNodeOptions o) => o with
        {
            PermanentFailureAfter = TimeSpan.FromSeconds(2),
            Handoff = o.Handoff with { Concurrency = 1, BatchBytes = 1024, MaxBytesPerSecond = 1024 },
            Namespaces = new Dictionary<string, NamespaceProps>(o.Namespaces) { ["one"] = NamespaceProps.Default with { NVal = 1, R = 1, W = 1, DW = 1 } },
        };
        var (systemA, a) = StartNode(tweak: Slow);
        var (systemB, b) = StartNode(ClusterExt.Get(systemA).SelfAddress, Slow);
        string[] both = [a.Self, b.Self];
        Array.Sort(both, StringComparer.Ordinal);
        await KvNodeSpec.AwaitConditionAsync(async () => await a.GetRingAsync() is { Settled: true } r && r.Members.SequenceEqual(both) && await a.IsServingAsync(),
            TimeSpan.FromSeconds(30), "a settled ring of both nodes");
        var keys = Enumerable.Range(0, 400).Select(i => $"f/{i:D3}").ToList();
        await Task.WhenAll(keys.Select(k => a.PutAsync("default", k, B("v-" + k), options: new RequestOptions { W = 3, DW = 3 })));
        foreach (var k in keys.Take(40))
            Assert.IsType<PutSucceeded>(await a.PutAsync("one", k, B("v")));

        // b is downed and gone: after 2 s its partitions go to a, into new vnodes that must fill themselves.
        ClusterExt.Get(systemA).Down(ClusterExt.Get(systemB).SelfAddress);
        await systemB.Terminate();
        await KvNodeSpec.AwaitConditionAsync(async () => await a.GetRingAsync() is { Settled: true } r && r.Members.SequenceEqual([a.Self]) && r.Lost.Count > 0,
            TimeSpan.FromSeconds(30), "a ring of a alone with lost partitions");
        var ring = (await a.GetRingAsync())!;
        int lost = ring.Lost[0];
        var probe = CreateTestProbe(systemA);
        var (lower, upper) = ScanRange.All.StorageBounds(B("default"), null);
        await KvNodeSpec.AwaitConditionAsync(async () =>
        {
            KvPaths.Vnode(systemA, a.Self, lost).Tell(new VnodeScan(9, B("default"), [lost], ring.Size, lower, upper, 10, 1 << 20), probe.Ref);
            var answer = await probe.ExpectMsgAsync<VnodeScanChunk>(TimeSpan.FromSeconds(5));
            if (!answer.Done)
                probe.LastSender.Tell(new VnodeScanNext(9, true), probe.Ref);
            return answer.Unsynced;
        }, TimeSpan.FromSeconds(10), $"vnode {lost}, taken over without data, answers a scan unsynced while it fills");

        // Every key once, in order: the plan reads the other replicas of those partitions.
        var (items, _) = await ScanAll(_ => a, "default", ScanRange.WithPrefix(B("f/")), 60);
        AssertExactlyOnceInOrder(keys, items.Select(i => i.Key).ToList(), "scan while partitions fill");
        // With n_val 1 a lost partition has no other replica: the vnode answers unsynced, the page is
        // planned again without it, and the scan fails naming the partition (it does not return a short list).
        var failed = Assert.IsType<RequestFailed>(await Scan(a, "one", ScanRange.All, 100));
        Assert.Equal(FailureCode.Unavailable, failed.Code);
        Assert.Contains("no replica of partition", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("is still filling", failed.Reason, StringComparison.Ordinal);
        Assert.True(Directory.EnumerateFiles(_dirs[0], "VNODE_UNSYNCED", SearchOption.AllDirectories).Any(), "some vnodes were still filling during the scan");
    }
}
