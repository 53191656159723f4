using System.Buffers.Binary;
using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.TestKit;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>TTL (expiry per value) and exists: the object format, the rules, the coordinators, and a one-node store.</summary>
public sealed class TtlSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private static readonly byte[] Ns = "default"u8.ToArray();
    private static readonly byte[] Key = "k"u8.ToArray();

    private static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static Sibling V(string s, long expiresAtMs = 0) => new(Encoding.UTF8.GetBytes(s), "text/plain", 1, false, expiresAtMs);

    private static DvvSet<Sibling> Stamped(Sibling v, string vnode) => DvvSet<Sibling>.Create(DvvSet<Sibling>.New(v), vnode);

    // ---- object format ----

    [Fact]
    public void An_expiry_round_trips_in_format_2_and_objects_without_one_keep_format_1_bytes()
    {
        long expiry = 1_800_000_000_123;
        var live = Stamped(V("a"), "r0");
        var expiring = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(V("b", expiry)), live, "r1");
        var withTombstone = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(Sibling.Tombstone(7)), expiring, "r2");
        foreach (var obj in new[] { expiring, withTombstone, DvvSet<Sibling>.New(V("anon", expiry)) })
        {
            var bytes = KvObjectCodec.Encode(obj);
            Assert.Equal(2, bytes[0]);
            KvObjectCodec.Validate(bytes);
            var back = KvObjectCodec.Decode(bytes);
            Assert.True(back.SameAs(obj));
            Assert.Equal(obj.Values.Select(v => v.ExpiresAtMs), back.Values.Select(v => v.ExpiresAtMs));
        }
        Assert.Equal(expiry, KvObjectCodec.Decode(KvObjectCodec.Encode(expiring)).Values.Single(v => v.ToString() == "b").ExpiresAtMs);

        // Without an expiry the encoding is format 1, byte for byte as written before TTLs existed.
        byte[] v1 = OldFormat("r0", 1, "a", "text/plain", 1);
        Assert.Equal(v1, KvObjectCodec.Encode(live));
        var old = KvObjectCodec.Decode(v1);
        Assert.True(old.SameAs(live));
        Assert.Equal(0, old.Values.Single().ExpiresAtMs);
    }

    /// <summary>An object of one entry with one value, laid out by hand as format 1 (the format before TTLs).</summary>
    private static byte[] OldFormat(string id, long counter, string value, string contentType, long modified)
    {
        var b = new List<byte> { 1 };
        void I32(int v) => b.AddRange(BitConverter.GetBytes(v));
        void I64(long v) => b.AddRange(BitConverter.GetBytes(v));
        void Str(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            b.AddRange(BitConverter.GetBytes((ushort)bytes.Length));
            b.AddRange(bytes);
        }
        I32(1);
        Str(id);
        I64(counter);
        I32(1);
        b.Add(0);
        I64(modified);
        Str(contentType);
        I32(Encoding.UTF8.GetByteCount(value));
        b.AddRange(Encoding.UTF8.GetBytes(value));
        I32(0);
        return [.. b];
    }

    [Fact]
    public void Bad_expiry_bytes_are_refused_by_decode_and_validate_alike()
    {
        var bytes = KvObjectCodec.Encode(Stamped(V("a", 1_800_000_000_000), "r0"));
        int flags = 1 + 4 + 2 + 2 + 8 + 4; // version, entries, id length, "r0", counter, value count
        Assert.Equal(2, bytes[flags]);
        // The expiry flag in format 1 is unknown there.
        var asV1 = (byte[])bytes.Clone();
        asV1[0] = 1;
        Assert.Throws<FormatException>(() => KvObjectCodec.Decode(asV1));
        Assert.Throws<FormatException>(() => KvObjectCodec.Validate(asV1));
        // An unknown flag.
        var unknown = (byte[])bytes.Clone();
        unknown[flags] = 4;
        Assert.Throws<FormatException>(() => KvObjectCodec.Decode(unknown));
        Assert.Throws<FormatException>(() => KvObjectCodec.Validate(unknown));
        // An expiry that is not positive.
        var negative = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(negative.AsSpan(flags + 1 + 8), -5);
        Assert.Throws<FormatException>(() => KvObjectCodec.Decode(negative));
        Assert.Throws<FormatException>(() => KvObjectCodec.Validate(negative));
        var rng = new Random(11);
        for (int i = 0; i < 2000; i++)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[rng.Next(damaged.Length)] ^= (byte)(1 << rng.Next(8));
            Assert.Equal(Parses(() => KvObjectCodec.Decode(damaged)), Parses(() => KvObjectCodec.Validate(damaged)));
        }
    }

    private static bool Parses(Action parse)
    {
        try
        {
            parse();
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    // ---- the wire ----

    private object RoundTrip(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<Wire.KvSerializer>(serializer);
        string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        return Sys.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, manifest);
    }

    [Fact]
    public void Ttls_expiries_and_the_head_flag_cross_the_wire_intact()
    {
        var value = V("v", 1_800_000_000_000);
        var put = (KvPut)RoundTrip(new KvPut(Ns, Key, value, VersionVector.Empty, RequestOptions.None) { Ttl = TimeSpan.FromMilliseconds(2500) });
        Assert.Equal(TimeSpan.FromMilliseconds(2500), put.Ttl);
        Assert.Null(((KvPut)RoundTrip(new KvPut(Ns, Key, value, VersionVector.Empty, RequestOptions.None))).Ttl);
        // Bad TTLs arrive as bad (the node refuses them), absurd ones clamped without an overflow.
        Assert.Equal(TimeSpan.Zero, ((KvPut)RoundTrip(new KvPut(Ns, Key, value, VersionVector.Empty, RequestOptions.None) { Ttl = TimeSpan.Zero })).Ttl);
        Assert.True(((KvPut)RoundTrip(new KvPut(Ns, Key, value, VersionVector.Empty, RequestOptions.None) { Ttl = TimeSpan.FromSeconds(-3) })).Ttl < TimeSpan.Zero);
        Assert.NotNull(Expiry.Check(((KvPut)RoundTrip(new KvPut(Ns, Key, value, VersionVector.Empty, RequestOptions.None) { Ttl = TimeSpan.MaxValue })).Ttl!.Value));
        var coordinated = (VnodeCoordinatePut)RoundTrip(new VnodeCoordinatePut(Ns, Key, VersionVector.Empty, value, 7));
        Assert.Equal(value, coordinated.Value);
        Assert.Equal(1_800_000_000_000, coordinated.Value.ExpiresAtMs);
        Assert.True(((VnodeGet)RoundTrip(new VnodeGet(Ns, Key, 3) { Head = true })).Head);
        Assert.False(((VnodeGet)RoundTrip(new VnodeGet(Ns, Key, 3))).Head);
        var obj = Stamped(value, "r0");
        var apply = (VnodeApply)RoundTrip(new VnodeApply(Ns, Key, obj, true, 4));
        Assert.Equal(1_800_000_000_000, apply.Object.Values.Single().ExpiresAtMs);
        var exists = (KvExists)RoundTrip(new KvExists(Ns, Key, new RequestOptions { R = 1 }));
        Assert.Equal(1, exists.Options.R);
        var result = (ExistsResult)RoundTrip(new ExistsResult(true, VersionVector.Of(("a", 2))));
        Assert.Equal((true, VersionVector.Of(("a", 2))), (result.Exists, result.Context));
        Assert.False(((ExistsResult)RoundTrip(new ExistsResult(false, VersionVector.Empty))).Exists);
    }

    // ---- the rules ----

    [Fact]
    public void A_ttl_must_be_positive_and_at_most_ten_years()
    {
        Assert.NotNull(Expiry.Check(TimeSpan.Zero));
        Assert.NotNull(Expiry.Check(TimeSpan.FromSeconds(-1)));
        Assert.NotNull(Expiry.Check(TimeSpan.FromTicks(1))); // under a millisecond
        Assert.NotNull(Expiry.Check(TimeSpan.FromDays(3651)));
        Assert.NotNull(Expiry.Check(TimeSpan.MaxValue));
        Assert.Null(Expiry.Check(TimeSpan.FromMilliseconds(1)));
        Assert.Null(Expiry.Check(TimeSpan.FromSeconds(30)));
        Assert.Null(Expiry.Check(Expiry.MaxTtl));
        Assert.Equal(0, Expiry.Stamp(1000, null));
        Assert.Equal(31_000, Expiry.Stamp(1000, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void A_value_counts_as_expired_from_its_expiry_less_the_tolerance_and_reads_as_a_tombstone_in_its_place()
    {
        var v = V("x", 10_000);
        Assert.False(Expiry.IsExpired(v, 8_999, 1_000));
        Assert.True(Expiry.IsExpired(v, 9_000, 1_000));
        Assert.False(Expiry.IsExpired(v, 9_999, 0));
        Assert.True(Expiry.IsExpired(v, 10_000, 0));
        Assert.False(Expiry.IsExpired(V("forever"), long.MaxValue, 0));

        // Two values of one actor (newest first) and one of another: the expired one becomes a tombstone in its place.
        var a = Stamped(V("old", 20_000), "r0");
        var b = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(V("new", 5_000)), DvvSet<Sibling>.Empty, "r0");
        var both = new DvvSet<Sibling>([a.Entries[0] with { Counter = 2, Values = [V("new", 5_000), V("old", 20_000)] }], []);
        Assert.Equal(2, both.Size);
        var read = Expiry.AsRead(both, 6_000, 0);
        Assert.Equal(both.Join(), read.Join());
        Assert.True(read.Entries[0].Values[0].Deleted);
        Assert.Equal("old", read.Entries[0].Values[1].ToString());
        Assert.Same(a, Expiry.AsRead(a, 6_000, 0)); // nothing expired: the same object
        Assert.Same(b, Expiry.AsRead(b, 1_000, 0));

        // Dead (reapable): tombstones and expired values only; due after the last expiry plus the tolerance.
        Assert.False(Expiry.Dead(both, 6_000));
        Assert.True(Expiry.Dead(both, 20_000));
        Assert.Equal(21_000, Expiry.ReapDueMs(both, 6_000, 1_000));
        Assert.Null(Expiry.ReapDueMs(Stamped(V("forever"), "r1"), 6_000, 1_000));
        Assert.Equal(6_000, Expiry.ReapDueMs(Stamped(Sibling.Tombstone(1), "r1"), 6_000, 1_000));
        Assert.False(Expiry.Dead(DvvSet<Sibling>.Sync(both, Stamped(V("forever"), "r1")), long.MaxValue));
    }

    // ---- the get coordinator ----

    private static NamespaceProps Props(int r = 2, bool lww = false) =>
        new() { R = r, W = 2, DW = 2, NotFoundOk = true, Timeout = TimeSpan.FromSeconds(5), LastWriteWins = lww, AllowMult = !lww };

    private (IActorRef Coordinator, TestProbe[] Replicas) Get(long toleranceMs = 0, bool exists = false, int r = 2, bool lww = false)
    {
        var replicas = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToArray();
        var refs = replicas.Select((p, i) => new ReplicaRef(i, "node" + i, p.Ref)).ToList();
        var props = Props(r, lww);
        var coordinator = Sys.ActorOf(Akka.Actor.Props.Create(() => new GetCoordinator(Ns, Key, refs, props, TestActor, toleranceMs, exists)));
        return (coordinator, replicas);
    }

    [Fact]
    public void A_get_answers_not_found_for_an_expired_value_and_leaves_expired_siblings_out()
    {
        // Only an expired value: not found, with the context that covers it.
        var (_, replicas) = Get();
        var gets = replicas.Select(p => p.ExpectMsg<VnodeGet>()).ToArray();
        Assert.All(gets, g => Assert.False(g.Head));
        var expired = Stamped(V("gone", NowMs - 1), "r0");
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, null, null) { Stored = KvObjectCodec.Encode(expired) });
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null) { Stored = KvObjectCodec.Encode(expired) });
        Assert.Equal(expired.Join(), ExpectMsg<NotFound>().Context);

        // An expired sibling and a live one: the live one alone, the context covering both.
        (_, replicas) = Get();
        gets = replicas.Select(p => p.ExpectMsg<VnodeGet>()).ToArray();
        var mixed = DvvSet<Sibling>.Sync(expired, Stamped(V("here", NowMs + 60_000), "r1"));
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, null, null) { Stored = KvObjectCodec.Encode(mixed) });
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null) { Stored = KvObjectCodec.Encode(mixed) });
        var ok = ExpectMsg<GetSucceeded>();
        Assert.Equal(["here"], ok.Siblings.Select(s => s.ToString()));
        Assert.Equal(mixed.Join(), ok.Context);
        Assert.Null(ok.Stored); // not the stored bytes: they hold the expired value
        // Read repair sends the stored merge (expired value included, like a tombstone) to the replica that lacked it.
        replicas[2].Reply(new VnodeGetReply(2, gets[2].RequestId, null, null));
        Assert.True(replicas[2].ExpectMsg<VnodeApply>().Object.SameAs(mixed));
    }

    [Fact]
    public void The_skew_tolerance_expires_a_value_early_never_late()
    {
        var soon = Stamped(V("soon", NowMs + 400), "r0");
        // Tolerance 2 s: a value 400 ms from its expiry already reads as gone.
        var (_, replicas) = Get(toleranceMs: 2_000, r: 1);
        var get = replicas[0].ExpectMsg<VnodeGet>();
        replicas[0].Reply(new VnodeGetReply(0, get.RequestId, soon, null));
        ExpectMsg<NotFound>();
        // Without tolerance it is still there.
        (_, replicas) = Get(toleranceMs: 0, r: 1);
        get = replicas[0].ExpectMsg<VnodeGet>();
        replicas[0].Reply(new VnodeGetReply(0, get.RequestId, soon, null));
        Assert.Equal(["soon"], ExpectMsg<GetSucceeded>().Siblings.Select(s => s.ToString()));
    }

    [Fact]
    public void In_a_last_write_wins_namespace_a_newer_expired_value_reads_as_not_found()
    {
        var (_, replicas) = Get(r: 1, lww: true);
        var get = replicas[0].ExpectMsg<VnodeGet>();
        var older = Stamped(new Sibling("old"u8.ToArray(), "", 100, false), "r0");
        var newerExpired = Stamped(new Sibling("new"u8.ToArray(), "", 200, false, NowMs - 1), "r1");
        replicas[0].Reply(new VnodeGetReply(0, get.RequestId, DvvSet<Sibling>.Sync(older, newerExpired), null));
        ExpectMsg<NotFound>();
    }

    [Fact]
    public void An_exists_read_asks_for_heads_answers_yes_or_no_and_repairs_nothing()
    {
        var (_, replicas) = Get(exists: true);
        var gets = replicas.Select(p => p.ExpectMsg<VnodeGet>()).ToArray();
        Assert.All(gets, g => Assert.True(g.Head));
        var head = VnodeActor.Head(Stamped(V("value"), "r0"));
        Assert.Empty(head.Values.Single().Value);
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, head, null));
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null));
        var yes = ExpectMsg<ExistsResult>();
        Assert.True(yes.Exists);
        Assert.Equal(head.Join(), yes.Context);
        replicas[2].Reply(new VnodeGetReply(2, gets[2].RequestId, null, null));
        foreach (var p in replicas)
            p.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // a head is never written back

        (_, replicas) = Get(exists: true);
        gets = replicas.Select(p => p.ExpectMsg<VnodeGet>()).ToArray();
        var expiredHead = VnodeActor.Head(Stamped(V("gone", NowMs - 1), "r0"));
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, expiredHead, null));
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, Stamped(Sibling.Tombstone(3), "r1"), null));
        Assert.False(ExpectMsg<ExistsResult>().Exists);

        (_, replicas) = Get(exists: true);
        gets = replicas.Select(p => p.ExpectMsg<VnodeGet>()).ToArray();
        replicas[0].Reply(new VnodeGetReply(0, gets[0].RequestId, null, null));
        replicas[1].Reply(new VnodeGetReply(1, gets[1].RequestId, null, null));
        Assert.False(ExpectMsg<ExistsResult>().Exists);
    }

    // ---- a one-node store ----

    private static readonly RequestOptions All = new() { R = 3, W = 3, DW = 3 };

    private static KvPut Put(string key, string value, TimeSpan? ttl, VersionVector? context = null) =>
        new(Ns, Encoding.UTF8.GetBytes(key), new Sibling(Encoding.UTF8.GetBytes(value), "text/plain", 0, false), context ?? VersionVector.Empty, All) { Ttl = ttl };

    private static async Task<List<VnodeGetReply>> ReplicasOf(ActorSystem system, KvNode node, string key, bool head = false)
    {
        var ring = (await node.GetRingAsync())!;
        var replies = new List<VnodeGetReply>();
        foreach (var replica in ring.PreferenceList(Ns, Encoding.UTF8.GetBytes(key), 3))
        {
            var reply = await KvPaths.Vnode(system, replica.Node, replica.Partition)
                .Ask<VnodeGetReply>(new VnodeGet(Ns, Encoding.UTF8.GetBytes(key), 1) { Head = head }, TimeSpan.FromSeconds(5));
            Assert.Null(reply.Error);
            replies.Add(reply);
        }
        return replies;
    }

    [Fact]
    public async Task A_value_with_a_ttl_is_served_until_it_expires_then_not_found_and_reaped_on_every_replica()
    {
        string dir = Directory.CreateTempSubdirectory("kv-ttl-").FullName;
        var system = ActorSystem.Create("kv", KvTestConfig.Node());
        InitializeLogger(system, "[node] ");
        try
        {
            var cluster = ClusterExt.Get(system);
            cluster.Join(cluster.SelfAddress);
            var node = KvNode.Start(system, KvNodeSpec.TestOptions(dir) with { TtlClockSkewTolerance = TimeSpan.FromMilliseconds(100) });
            await KvNodeSpec.AwaitConditionAsync(async () => await node.GetRingAsync() is { } ring && (await node.GetHandoffStatusAsync()).Vnodes.Count == ring.Size && await node.IsServingAsync(),
                TimeSpan.FromSeconds(15), "the node serving");
            async Task<object> Ask(object m) => await node.Router.Ask<object>(m, TimeSpan.FromSeconds(10));

            // Bad TTLs: a clear error, nothing stored.
            foreach (var bad in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(-5), TimeSpan.FromDays(3651), TimeSpan.MaxValue })
            {
                var refused = Assert.IsType<RequestFailed>(await Ask(Put("bad", "v", bad)));
                Assert.Equal(FailureCode.InvalidRequest, refused.Code);
                Assert.Contains("ttl", refused.Reason);
            }
            Assert.IsType<NotFound>(await Ask(new KvGet(Ns, "bad"u8.ToArray(), All)));
            Assert.All(await ReplicasOf(system, node, "bad"), r => Assert.False(r.Found));

            // A value with a TTL: stamped by the coordinating node, the same on every replica.
            long before = NowMs;
            Assert.IsType<PutSucceeded>(await Ask(Put("t", "short-lived", TimeSpan.FromMilliseconds(1500))));
            long after = NowMs;
            var got = Assert.IsType<GetSucceeded>(await Ask(new KvGet(Ns, "t"u8.ToArray(), All)));
            long expiry = Assert.Single(got.Siblings).ExpiresAtMs;
            Assert.InRange(expiry, before + 1500, after + 1500);
            foreach (var reply in await ReplicasOf(system, node, "t"))
                Assert.Equal(expiry, reply.Object!.Values.Single().ExpiresAtMs);
            var exists = Assert.IsType<ExistsResult>(await Ask(new KvExists(Ns, "t"u8.ToArray(), All)));
            Assert.True(exists.Exists);
            // The vnodes answer an exists read without the value's bytes.
            foreach (var reply in await ReplicasOf(system, node, "t", head: true))
            {
                var v = reply.Object!.Values.Single();
                Assert.Empty(v.Value);
                Assert.Equal(expiry, v.ExpiresAtMs);
            }

            // A blind put beside an expired value: the expired one stays a sibling in storage, but no answer shows it.
            Assert.IsType<PutSucceeded>(await Ask(Put("rb", "expires", TimeSpan.FromMilliseconds(100))));
            await Task.Delay(250);
            var blind = Assert.IsType<PutSucceeded>(await Ask(Put("rb", "new", null) with { Options = All with { ReturnBody = true } }));
            Assert.Equal(2, blind.Object!.Size);
            Assert.Equal(["new"], blind.Object.Values.Where(v => !v.Deleted).Select(v => v.ToString()));
            Assert.Equal(["new"], Assert.IsType<GetSucceeded>(await Ask(new KvGet(Ns, "rb"u8.ToArray(), All))).Siblings.Select(v => v.ToString()));

            // A plain put with the read's context clears the TTL (as Redis SET does).
            Assert.IsType<PutSucceeded>(await Ask(Put("p", "first", TimeSpan.FromMilliseconds(1500))));
            var p = Assert.IsType<GetSucceeded>(await Ask(new KvGet(Ns, "p"u8.ToArray(), All)));
            Assert.IsType<PutSucceeded>(await Ask(Put("p", "kept", null, p.Context)));

            // Past the expiry: not found (get and exists), nothing served.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, expiry - NowMs) + 50));
            Assert.IsType<NotFound>(await Ask(new KvGet(Ns, "t"u8.ToArray(), All)));
            Assert.False(Assert.IsType<ExistsResult>(await Ask(new KvExists(Ns, "t"u8.ToArray(), All))).Exists);
            var kept = Assert.IsType<GetSucceeded>(await Ask(new KvGet(Ns, "p"u8.ToArray(), All)));
            Assert.Equal(0, Assert.Single(kept.Siblings).ExpiresAtMs);

            // The expired object is reaped from every replica like a tombstone ...
            var stale = (await ReplicasOf(system, node, "t"))[0].Object!;
            await KvNodeSpec.AwaitConditionAsync(async () => (await ReplicasOf(system, node, "t")).All(r => !r.Found), TimeSpan.FromSeconds(10), "the expired key reaped on all three replicas");
            // ... and a copy from before the reap (a late read repair, a handoff) cannot bring it back.
            var replica = (await node.GetRingAsync())!.PreferenceList(Ns, "t"u8, 3)[0];
            var applied = await KvPaths.Vnode(system, replica.Node, replica.Partition)
                .Ask<VnodePutReply>(new VnodeApply(Ns, "t"u8.ToArray(), stale, Durable: true, 5), TimeSpan.FromSeconds(5));
            Assert.Null(applied.Error);
            Assert.All(await ReplicasOf(system, node, "t"), r => Assert.False(r.Found));
            // The key without a TTL is never reaped.
            Assert.All(await ReplicasOf(system, node, "p"), r => Assert.True(r.Found));
        }
        finally
        {
            await system.Terminate();
            Directory.Delete(dir, recursive: true);
        }
    }
}
