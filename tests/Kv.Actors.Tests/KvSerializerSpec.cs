using System.Runtime.Serialization;
using System.Text;
using Akka.Serialization;
using Kv.Actors.Admin;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using Kv.Actors.Wire;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>
/// The wire form of the store's messages through Akka's own serialization (as Akka.Remote uses
/// it): every message is bound to <see cref="KvSerializer"/> under its stable type id, comes back
/// intact, and a frame with an unknown manifest or a malformed payload is refused with a
/// <see cref="SerializationException"/> that says what was wrong.
/// </summary>
public sealed class KvSerializerSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvSerializer.Config, output: output)
{
    private static readonly byte[] Ns = "default"u8.ToArray(), Key = "k"u8.ToArray();
    private static readonly Sibling Value = new(Encoding.UTF8.GetBytes("v"), "text/plain", 42, false);
    private static readonly DvvSet<Sibling> Obj = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(Value), "vn1");
    private static readonly VersionVector Ctx = VersionVector.Of(("vn1", 3), ("vn2", 1));
    private static readonly RequestOptions Options = new() { R = 3, DW = 0, PR = 1, Timeout = TimeSpan.FromMilliseconds(1500), NotFoundOk = false, ReturnBody = true };
    private static readonly Ring.Ring ARing = Ring.Ring.Create(RingStateSpec.Three, 8).WithLeaving("b");
    private static readonly HandoffStatus Status = new([new HandoffProgress(3, "akka.tcp://kv@h:2", HandoffState.Sending, 10, 2048, "slow")], [1, 3], [1]);

    private static readonly Metrics.MetricsSnapshot MetricsSample = new("akka.tcp://kv@h:1", 1_765_000_000_000,
        [new Metrics.MetricSample("kv.requests", "op=get,ns=default,outcome=ok", 1234), new Metrics.MetricSample("kv.request.latency.p99", "", 2.75)]);

    private static readonly Hints.HintAdded HintSample = new("akka.tcp://kv@h:2", 3, Ns, Key, KvObjectCodec.Encode(Obj), 1_765_000_000_000);

    private static readonly Aae.AaeStatus AaeStatusSample = new("akka.tcp://kv@h:1",
        [new Aae.AaeExchangeInfo(3, "akka.tcp://kv@h:2", 4, 2, 3, 1_700_000_000_000, 12, 40, "12 keys differed in 3 segments; 12 repaired")],
        [new Aae.AaeTreeInfo(3, 1_700_000_000_000, 1234, false), new Aae.AaeTreeInfo(4, 0, 0, true)]);

    private static readonly Hints.HintStatus HintStatusSample = new("akka.tcp://kv@h:1",
        [new Hints.HintTargetStatus("akka.tcp://kv@h:2", 10, 4096, 1500, "waiting", 1, 20)]);

    private static readonly KvManyReply BatchReplySample = new([
        new GetSucceeded(Obj), new NotFound(Ctx), new PutSucceeded(null, 2, 2, Ctx), new QuorumNotMet("get", 1, 2, 0, 0, "timed out"),
        new RequestFailed("bad key", FailureCode.InvalidKey), new PutRefused("too many siblings")]);

    private static readonly ReplicaBatch ReplicaBatchSample = new(77, 5000, [
        new ReplicaBatchItem(0, 3, false, new VnodeGet(Ns, Key, 9)), new ReplicaBatchItem(1, 4, true, new Hints.HintGet(4, Ns, Key, 10)),
        new ReplicaBatchItem(-1, 3, false, new VnodeApply(Ns, Key, Obj, false, VnodeApply.NoReply)),
        new ReplicaBatchItem(2, 5, false, new VnodeCoordinatePut(Ns, Key, Ctx, Value, 11)),
        new ReplicaBatchItem(3, 6, true, new Hints.HintApply(6, "akka.tcp://kv@h:2", Ns, Key, Obj, 12))]);

    private static readonly ReplicaBatchReply ReplicaBatchReplySample = new(77, [
        new ReplicaBatchReplyItem(0, new VnodeGetReply(3, 9, Obj, null)), new ReplicaBatchReplyItem(1, new VnodePutReply(4, 10, null, true, "disk"))]);

    private static readonly Consistent.Ballot BallotSample = new(1_765_000_000_123, "akka.tcp://kv@h:1#3-ab12cd34");

    private static readonly Consistent.PaxosValue PaxosValueSample = Consistent.PaxosValue.Absent.After(11, 0, true, [7, 8], "text/plain", 5).After(12, 42, true, [4, 2], "text/plain", 6);

    private static readonly Consistent.ConsistentRequest ConsistentRequestSample = new(3, Ns, Key, [(3, "akka.tcp://kv@h:1"), (4, "akka.tcp://kv@h:2")],
        new Consistent.ConsistentOp(Consistent.ConsistentOpKind.Cas, [9], "text/plain", null, 0), 2500);

    private static readonly Consistent.PaxosPromise PromiseSample = new(3, 9, true, BallotSample, new Consistent.Ballot(5, "p"), PaxosValueSample,
        new Consistent.Ballot(4, "p"), Consistent.PaxosValue.Absent, null);

    /// <summary>One message of every wire type, with the manifest (type id) it must travel under.</summary>
    public static readonly (object Message, string Manifest)[] Samples =
    [
        (new VnodeGet(Ns, Key, 9), "200"),
        (new VnodeCoordinatePut(Ns, Key, Ctx, Value, 7, 50, 10, true), "201"),
        (new VnodeApply(Ns, Key, Obj, true, 5), "202"),
        (new VnodeReap(Ns, Key, Obj), "203"),
        (new VnodeGetReply(3, 9, Obj, null), "204"),
        (new VnodePutReply(3, 9, Obj, true, null), "205"),
        (new HandoffBatch(4, 2, [(Key, KvObjectCodec.Encode(Obj))], "akka.tcp://kv@h:1"), "206"),
        (new HandoffBatchAck(4, 2, "disk full"), "207"),
        (new RingGossip(ARing), "210"),
        (new TransferComplete(5, "akka.tcp://kv@h:1", "akka.tcp://kv@h:2"), "211"),
        (new LeaveRing("akka.tcp://kv@h:1"), "212"),
        (GetRing.Instance, "213"),
        (new CurrentRing(ARing), "214"),
        (new RejoinRing("akka.tcp://kv@h:1"), "215"),
        (new KvPut(Ns, Key, Value, Ctx, Options with { Hops = 1 }), "220"),
        (new KvGet(Ns, Key, Options), "221"),
        (new KvDelete(Ns, Key, Ctx, Options), "222"),
        (new PutSucceeded(Obj, 2, 1, Ctx), "223"),
        (new GetSucceeded(Obj), "224"),
        (new NotFound(Ctx), "225"),
        (new QuorumNotMet("put", 2, 3, 1, 2, "timed out"), "226"),
        (new PutRefused("too many siblings"), "227"),
        (new RequestFailed("no ring"), "228"),
        (GetClusterStatus.Instance, "230"),
        (new ClusterStatus("akka.tcp://kv@h:1", "akka.tcp://kv@h:1", true, [new MemberInfo("akka.tcp://kv@h:1", "Up", true, ["kv"])], ARing, 3), "231"),
        (GetTransfers.Instance, "232"),
        (new ClusterTransfers([new NodeTransfers("akka.tcp://kv@h:1", Status, null), new NodeTransfers("akka.tcp://kv@h:2", null, "no answer")]), "233"),
        (new LeaveNode("akka.tcp://kv@h:2"), "234"),
        (new DownNode("akka.tcp://kv@h:3"), "235"),
        (new AdminReply(true, "leaving"), "236"),
        (GetHandoffStatus.Instance, "237"),
        (Status, "238"),
        (new FillRequest(5, 6, "akka.tcp://kv@h:1"), "240"),
        (new FillDone(5, 6), "241"),
        (new ChaosSetFaults(["akka.tcp://kv@h:2"]), "246"),
        (new Hints.HintApply(3, "akka.tcp://kv@h:2", Ns, Key, Obj, 11), "208"),
        (new Hints.HintGet(3, Ns, Key, 12), "209"),
        (Hints.GetHintStatus.Instance, "216"),
        (HintStatusSample, "217"),
        (Hints.GetClusterHints.Instance, "218"),
        (new Hints.ClusterHints([new Hints.NodeHints("akka.tcp://kv@h:1", HintStatusSample, null), new Hints.NodeHints("akka.tcp://kv@h:3", null, "no answer")]), "219"),
        (HintSample, "242"),
        (new Hints.HintsDelivered([4, 5, 9]), "243"),
        (new Aae.AaeTreeRequest(5, 4, 3, 2, [0, 7, 31], 11), "250"),
        (new Aae.AaeTreeReply(5, 11, true, [1UL, ulong.MaxValue, 0UL], [new Aae.AaeKeyHash([0, 1, 97, 98], 0xDEADBEEFUL)], null), "251"),
        (Aae.GetAaeStatus.Instance, "252"),
        (AaeStatusSample, "253"),
        (Aae.GetClusterAae.Instance, "254"),
        (new Aae.ClusterAae([new Aae.NodeAae("akka.tcp://kv@h:1", AaeStatusSample, null), new Aae.NodeAae("akka.tcp://kv@h:3", null, "no answer")]), "255"),
        (new Scans.KvScan(Ns, Scans.ScanRange.WithPrefix("us"u8.ToArray()), 50, "tok", Options), "272"),
        (new Scans.ScanPage([new Scans.ScanItem(Key, Obj)], "next"), "273"),
        (new Scans.VnodeScan(77, Ns, [1, 2, 3], 16, [0, 7, 1], [0, 7, 2], 256, 4096), "274"),
        (new Scans.VnodeScanChunk(77, 3, [new Scans.ScanEntry(Key, KvObjectCodec.Encode(Obj))], false, false, null), "275"),
        (new Scans.VnodeScanNext(77, true), "276"),
        (new KvUpdate(Ns, Key, new Crdt.CrdtOp(Crdt.CrdtOpKind.SetAdd, 0, [[1, 2], [3]], "int"), Options), "280"),
        (new UpdateSucceeded(Crdt.CrdtValues.ContentType(Crdt.Datatype.Counter), Crdt.PnCounter.Empty.Increment("p1.ab", 5).Encode(), 5, 2, 2) { Result = [7] }, "281"),
        (new VnodeCoordinateUpdate(Ns, Key, Crdt.CrdtOp.Increment(-3), Crdt.Datatype.Counter, 9, 1 << 20), "282"),
        (new VnodeUpdateReply(3, 9, UpdateOutcome.Applied, Obj, 17, null) { Encoded = KvObjectCodec.Encode(Obj) }, "283"),
        (new Hints.HintSnapshot([new Hints.StoredHint(4, HintSample)], new Dictionary<string, long> { ["akka.tcp://kv@h:2"] = 3 }, new Dictionary<string, long> { ["akka.tcp://kv@h:2"] = 7 }), "244"),
        (new KvExists(Ns, Key, Options), "256"),
        (new ExistsResult(true, Ctx), "257"),
        (new KvGetMany(Ns, [Key, "k2"u8.ToArray()], Options), "264"),
        (new KvPutMany(Ns, [new KvPutManyItem(Key, Value, Ctx)], Options), "265"),
        (BatchReplySample, "266"),
        (ReplicaBatchSample, "267"),
        (ReplicaBatchReplySample, "268"),
        (Metrics.GetMetricsSnapshot.Instance, "350"),
        (MetricsSample, "351"),
        (Metrics.GetClusterMetrics.Instance, "352"),
        (new Metrics.ClusterMetrics([new Metrics.NodeMetrics("akka.tcp://kv@h:1", MetricsSample, null), new Metrics.NodeMetrics("akka.tcp://kv@h:3", null, "no answer within 3 s")]), "353"),
        (new Consistent.KvCas(Ns, Key, [1], [2], Options), "300"),
        (new Consistent.CasReply(false, null), "301"),
        (ConsistentRequestSample, "302"),
        (new Consistent.PaxosPrepare(Ns, Key, BallotSample, 9), "303"),
        (PromiseSample, "304"),
        (new Consistent.PaxosPropose(Ns, Key, BallotSample, PaxosValueSample, 9), "305"),
        (new Consistent.PaxosAccepted(3, 9, false, BallotSample, null), "306"),
        (new Consistent.PaxosCommit(Ns, Key, BallotSample, PaxosValueSample), "307"),
        (new Security.Authorized("tok.sig", new KvGet(Ns, Key, Options)), "330"),
        (new Security.Login("reader", "pw"), "331"),
        (new Security.LoginReply("tok.sig", 1_700_000_000_000, null), "332"),
        (new Security.UserAdmin(Security.UserAdminOp.Grant, "reader", null, Security.Permission.Write, "default"), "333"),
        (new Security.UserAdminReply(true, "granted", [new Security.UserInfo("reader", [new Security.Grant(Security.Permission.Read, "*")])]), "334"),
        (new Security.UserDirectoryGossip(SecuritySpec.SampleDirectory(), true), "335"),
        (Security.UserDirectoryAck.Instance, "336"),
        (new Backup.BackupRead(5, 64, "backup-ab", 2048, 1 << 20), "320"),
        (new Backup.BackupChunk(5, "backup-ab", [new Backup.BackupEntry(Ns, Key, KvObjectCodec.Encode(Obj))], false, null), "321"),
        (new Backup.KvMergeMany(Ns, [new Backup.KvMergeItem(Key, Obj)], Options), "322"),
    ];

    [Fact]
    public void Security_messages_keep_their_contents_and_an_envelope_carries_only_store_messages()
    {
        var put = new KvPut(Ns, Key, Value, Ctx, Options);
        var env = (Security.Authorized)RoundTrip(new Security.Authorized("a.b", put));
        Assert.Equal("a.b", env.Token);
        var inner = Assert.IsType<KvPut>(env.Message);
        Assert.Equal(Key, inner.Key);
        var admin = (Security.UserAdmin)RoundTrip(new Security.UserAdmin(Security.UserAdminOp.Add, "bob", "s3cret"));
        Assert.Equal(("bob", "s3cret", Security.UserAdminOp.Add), (admin.User, admin.Password, admin.Op));
        Assert.Null(((Security.UserAdmin)RoundTrip(new Security.UserAdmin(Security.UserAdminOp.Delete, "bob"))).Password);
        var refused = (Security.LoginReply)RoundTrip(new Security.LoginReply(null, 0, "wrong user name or password"));
        Assert.Equal((null, "wrong user name or password"), (refused.Token, refused.Error));
        var dir = SecuritySpec.SampleDirectory();
        var back = ((Security.UserDirectoryGossip)RoundTrip(new Security.UserDirectoryGossip(dir, false))).Directory;
        Assert.True(back.SameAs(dir));
        Assert.Equal(dir.Find("reader")!.Hash, back.Find("reader")!.Hash);
        Assert.Equal(dir.Find("reader")!.Grants, back.Find("reader")!.Grants);
        Assert.True(back.Users["gone"].Deleted);
        Assert.Equal(dir.Secret!.Key, back.Secret!.Key);
        Assert.Equal((int)FailureCode.AccessDenied, (int)((RequestFailed)RoundTrip(new RequestFailed("no", FailureCode.AccessDenied))).Code);

        // An envelope inside an envelope, a malformed hash, an unknown permission: refused as malformed.
        var serializer = (KvSerializer)Serialization.FindSerializerFor(env);
        Assert.ThrowsAny<Exception>(() => serializer.ToBinary(new Security.Authorized("t", new Security.Authorized("t", put))));
        var nested = new Protos.AuthorizedData { Token = "t", Message = new Protos.NestedMessageData { Type = 330, Payload = Google.Protobuf.ByteString.CopyFrom(serializer.ToBinary(env)) } };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(nested), "330"));
        var badHash = new Protos.UserDirectoryGossipData { Directory = new Protos.UserDirectoryData { Users = { new Protos.UserRecordData { Name = "x", Salt = Google.Protobuf.ByteString.CopyFrom(new byte[3]), Iterations = 1 } } } };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badHash), "335"));
        var badPermission = new Protos.UserAdminData { Op = 5, User = "x", Permission = 9, Ns = "default" };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badPermission), "333"));
    }

    private Serialization Serialization => Sys.Serialization;

    /// <summary>Serializes as Akka.Remote does (serializer found by type, its manifest) and reads back.</summary>
    private object RoundTrip(object message)
    {
        var serializer = Serialization.FindSerializerFor(message);
        Assert.IsType<KvSerializer>(serializer);
        string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        return Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, manifest);
    }

    [Fact]
    public void Every_store_message_is_bound_to_the_kv_serializer_under_its_type_id_and_round_trips()
    {
        Assert.Equal(
            KvSerializers.ById.Values.Select(c => c.Type.FullName).Order(StringComparer.Ordinal),
            Samples.Select(s => s.Message.GetType().FullName).Order(StringComparer.Ordinal)); // a sample of every wire type
        foreach (var (message, manifest) in Samples)
        {
            var serializer = Serialization.FindSerializerFor(message);
            Assert.IsType<KvSerializer>(serializer);
            Assert.Equal(KvSerializer.Id, serializer.Identifier);
            Assert.Equal(manifest, Akka.Serialization.Serialization.ManifestFor(serializer, message));
            byte[] bytes = serializer.ToBinary(message);
            var back = Serialization.Deserialize(bytes, KvSerializer.Id, manifest);
            Assert.IsType(message.GetType(), back);
            // What came back writes the same bytes: nothing was lost or changed on the way.
            Assert.Equal(bytes, serializer.ToBinary(back));
        }
    }

    [Fact]
    public void Consistent_namespace_messages_cross_the_wire_intact_and_bad_ones_are_refused()
    {
        var cas = (Consistent.KvCas)RoundTrip(new Consistent.KvCas(Ns, Key, null, [2, 3], Options));
        Assert.Null(cas.Expected); // absent expected stays absent, not empty
        Assert.Equal([2, 3], cas.NewValue);
        Assert.Equal([], ((Consistent.KvCas)RoundTrip(cas with { Expected = [] })).Expected!);
        // A node tells clients its consistent namespaces with the ring (their writes are never retried).
        Assert.Equal(["counters", "*"], ((CurrentRing)RoundTrip(new CurrentRing(ARing) { ConsistentNamespaces = ["counters", "*"] })).ConsistentNamespaces);
        Assert.Empty(((CurrentRing)RoundTrip(new CurrentRing(null))).ConsistentNamespaces);
        Assert.Equal(Options.Timeout, cas.Options.Timeout);
        Assert.Null(((Consistent.CasReply)RoundTrip(new Consistent.CasReply(false, null))).Current);
        Assert.Equal([5], ((Consistent.CasReply)RoundTrip(new Consistent.CasReply(true, [5]))).Current!);
        var request = (Consistent.ConsistentRequest)RoundTrip(ConsistentRequestSample);
        Assert.Equal(ConsistentRequestSample.Primaries, request.Primaries);
        Assert.Equal((Consistent.ConsistentOpKind.Cas, 2500L, (byte[]?)null), (request.Op.Kind, request.TimeoutMs, request.Op.Expected));
        var promise = (Consistent.PaxosPromise)RoundTrip(PromiseSample);
        Assert.Equal((BallotSample, new Consistent.Ballot(5, "p"), new Consistent.Ballot(4, "p")), (promise.Promised, promise.AcceptedBallot, promise.CommittedBallot));
        Assert.Equal([(11L, 0L), (12L, 42L)], promise.Accepted!.RecentOps);
        Assert.Equal([4, 2], promise.Accepted.Value);
        Assert.False(promise.Committed!.Present);
        var empty = (Consistent.PaxosPromise)RoundTrip(new Consistent.PaxosPromise(1, 2, false, Consistent.Ballot.Zero, Consistent.Ballot.Zero, null, Consistent.Ballot.Zero, null, "handed off"));
        Assert.Equal(("handed off", (Consistent.PaxosValue?)null, (Consistent.PaxosValue?)null), (empty.Error, empty.Accepted, empty.Committed));
        Assert.True(empty.Promised.IsZero);
        // Ballots order by counter, then proposer.
        Assert.True(new Consistent.Ballot(2, "a") > new Consistent.Ballot(1, "z"));
        Assert.True(new Consistent.Ballot(2, "b") > new Consistent.Ballot(2, "a"));
        // The acceptor state a vnode stores reads back as it was written.
        var state = new Consistent.PaxosAcceptorState(BallotSample, new Consistent.Ballot(5, "p"), PaxosValueSample, Consistent.Ballot.Zero, null);
        var back = KvSerializers.DecodeAcceptorState(KvSerializers.EncodeAcceptorState(state));
        Assert.Equal((state.Promised, state.AcceptedBallot, state.CommittedBallot, (Consistent.PaxosValue?)null), (back.Promised, back.AcceptedBallot, back.CommittedBallot, back.Committed));
        Assert.Equal(PaxosValueSample.RecentOps, back.Accepted!.RecentOps);
        // An unknown operation kind, or op ids without their numbers, are refused.
        var serializer = (KvSerializer)Serialization.FindSerializerFor(cas);
        var badKind = new Protos.ConsistentRequestData { Partition = 1, Op = new Protos.ConsistentOpData { Kind = 77 } };
        Assert.Throws<SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badKind), "302"));
        var noOp = new Protos.ConsistentRequestData { Partition = 1 };
        Assert.Throws<SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(noOp), "302"));
        var badValue = new Protos.PaxosCommitData { Value = new Protos.PaxosValueData { OpIds = { 1, 2 }, OpNumbers = { 0 } } };
        Assert.Throws<SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badValue), "307"));
    }

    [Fact]
    public void Data_type_messages_cross_the_wire_intact_and_bad_ones_are_refused()
    {
        var update = (KvUpdate)RoundTrip(new KvUpdate(Ns, Key, new Crdt.CrdtOp(Crdt.CrdtOpKind.RegisterSet, 0, [[1, 2], []], "float"), Options));
        Assert.Equal((Crdt.CrdtOpKind.RegisterSet, "float"), (update.Op.Kind, update.Op.ValueType));
        Assert.Equal([[1, 2], []], update.Op.Items);
        Assert.Equal(Options.R, update.Options.R);
        var coordinate = (VnodeCoordinateUpdate)RoundTrip(new VnodeCoordinateUpdate(Ns, Key, Crdt.CrdtOp.Increment(long.MinValue + 1), Crdt.Datatype.Set, 9, 123));
        Assert.Equal((long.MinValue + 1, Crdt.Datatype.Set, 9L, 123), (coordinate.Op.Amount, coordinate.Datatype, coordinate.RequestId, coordinate.MaxBytes));
        var reply = (VnodeUpdateReply)RoundTrip(new VnodeUpdateReply(3, 9, UpdateOutcome.Refused, null, 0, "overflow"));
        Assert.Equal((UpdateOutcome.Refused, "overflow"), (reply.Outcome, reply.Error));
        Assert.Null(reply.Object);
        var applied = (VnodeUpdateReply)RoundTrip(new VnodeUpdateReply(3, 9, UpdateOutcome.Applied, Obj, -4, null));
        Assert.True(applied.Object!.SameAs(Obj));
        Assert.Equal(-4, applied.Number);
        var ok = (UpdateSucceeded)RoundTrip(new UpdateSucceeded("application/vnd.kv.crdt.set", [5, 6], 2, 3, 1));
        Assert.Equal(("application/vnd.kv.crdt.set", 2L, 3, 1), (ok.ContentType, ok.Number, ok.Acks, ok.DurableAcks));
        Assert.Null(ok.Result);
        var emptyPop = ((UpdateSucceeded)RoundTrip(ok with { Result = [] })).Result;
        Assert.NotNull(emptyPop); // an empty popped element is not "nothing popped"
        Assert.Empty(emptyPop);
        var popped = ((VnodeUpdateReply)RoundTrip(new VnodeUpdateReply(3, 9, UpdateOutcome.Applied, Obj, 1, null) { Result = [9] })).Result;
        Assert.Equal([9], popped!);
        Assert.Equal([5, 6], ok.State);
        // An unknown operation kind, datatype or outcome is refused by the deserializer.
        var serializer = (KvSerializer)Serialization.FindSerializerFor(update);
        var badOp = new Protos.KvUpdateData { Ns = Google.Protobuf.ByteString.CopyFrom(Ns), Key = Google.Protobuf.ByteString.CopyFrom(Key), Op = new Protos.CrdtOpData { Kind = 99 } };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badOp), "280"));
        var noOp = new Protos.KvUpdateData { Ns = Google.Protobuf.ByteString.CopyFrom(Ns), Key = Google.Protobuf.ByteString.CopyFrom(Key) };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(noOp), "280"));
        var badType = new Protos.VnodeCoordinateUpdateData { Op = new Protos.CrdtOpData { Kind = 1 }, Datatype = 0 };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badType), "282"));
        var badOutcome = new Protos.VnodeUpdateReplyData { Outcome = 7 };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badOutcome), "283"));
    }

    [Fact]
    public void Backup_messages_cross_the_wire_intact_and_a_malformed_object_is_refused()
    {
        var start = (Backup.BackupRead)RoundTrip(new Backup.BackupRead(5, 64, null, 2048, 1 << 20));
        Assert.Equal(new Backup.BackupRead(5, 64, null, 2048, 1 << 20), start);
        var stop = (Backup.BackupRead)RoundTrip(new Backup.BackupRead(1, 16, "backup-x", 1, 2, Stop: true));
        Assert.Equal(("backup-x", true), (stop.Cursor, stop.Stop));
        var chunk = (Backup.BackupChunk)RoundTrip(new Backup.BackupChunk(5, "backup-ab", [new Backup.BackupEntry(Ns, Key, KvObjectCodec.Encode(Obj))], true, null));
        Assert.Equal((5, "backup-ab", true, (string?)null), (chunk.Partition, chunk.Cursor, chunk.Done, chunk.Error));
        Assert.Equal(Ns, chunk.Items[0].Namespace);
        Assert.Equal(Key, chunk.Items[0].Key);
        Assert.Equal(KvObjectCodec.Encode(Obj), chunk.Items[0].Object);
        var refused = (Backup.BackupChunk)RoundTrip(new Backup.BackupChunk(5, "", [], true, "unsynced: filling"));
        Assert.Equal("unsynced: filling", refused.Error);
        var merge = (Backup.KvMergeMany)RoundTrip(new Backup.KvMergeMany(Ns, [new Backup.KvMergeItem(Key, Obj), new Backup.KvMergeItem("k2"u8.ToArray(), Obj)], Options));
        Assert.Equal(2, merge.Items.Count);
        Assert.True(merge.Items[1].Object.SameAs(Obj));
        Assert.Equal(Options.DW, merge.Options.DW);
        // An object that does not decode refuses the message.
        var serializer = (KvSerializer)Serialization.FindSerializerFor(merge);
        var bad = new Protos.BackupChunkData { Items = { new Protos.BackupEntryData { Ns = Google.Protobuf.ByteString.CopyFrom(Ns), Key = Google.Protobuf.ByteString.CopyFrom(Key), Object = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) } } };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(bad), "321"));
        var badMerge = new Protos.KvMergeManyData { Ns = Google.Protobuf.ByteString.CopyFrom(Ns), Items = { new Protos.KvMergeItemData { Key = Google.Protobuf.ByteString.CopyFrom(Key), Object = Google.Protobuf.ByteString.CopyFrom(9) } } };
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(Google.Protobuf.MessageExtensions.ToByteArray(badMerge), "322"));
    }

    [Fact]
    public void Message_fields_cross_the_wire_intact()
    {
        var put = (VnodeCoordinatePut)RoundTrip(new VnodeCoordinatePut(Ns, Key, Ctx, Value, 7, 50, 10, true));
        Assert.Equal((Ctx, 7L, 50, 10, true), (put.Context, put.RequestId, put.MaxSiblings, put.WarnSiblings, put.LastWriteWins));
        Assert.Equal(Value, put.Value);
        Assert.Equal(Ns, put.Namespace);
        Assert.Equal(Key, put.Key);
        var apply = (VnodeApply)RoundTrip(new VnodeApply(Ns, Key, Obj, true, VnodeApply.NoReply));
        Assert.True(apply.Object.SameAs(Obj));
        // The encoding an object came in is kept with it (a replica stores it as it is) ...
        Assert.Equal(KvObjectCodec.Encode(Obj), apply.Encoded!.Value.ToArray());
        // ... and an encoding at hand is what goes out: these bytes decode to another object, and
        // arrive as they were sent, not re-encoded from the object.
        var other = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("w"u8.ToArray(), "", 1, false)), "vn2");
        var carried = (VnodeApply)RoundTrip(new VnodeApply(Ns, Key, Obj, true, 5) { Encoded = KvObjectCodec.Encode(other) });
        Assert.True(carried.Object.SameAs(other));
        var stamped = (VnodePutReply)RoundTrip(new VnodePutReply(3, 9, Obj, false, null) { Encoded = KvObjectCodec.Encode(Obj) });
        Assert.True(stamped.Object!.SameAs(Obj));
        Assert.Equal(KvObjectCodec.Encode(Obj), stamped.Encoded!.Value.ToArray());
        Assert.Null(((VnodePutReply)RoundTrip(new VnodePutReply(3, 9, null, true, null))).Encoded);
        var notFound = (VnodeGetReply)RoundTrip(new VnodeGetReply(3, 9, null, null));
        Assert.Null(notFound.Object);
        Assert.False(notFound.Found); // no bytes is "not found", not an empty object
        Assert.True(((VnodeGetReply)RoundTrip(new VnodeGetReply(3, 9, Obj, null))).Object!.SameAs(Obj));
        // A vnode's reply carries the stored bytes it read and they go out as they are.
        var fromStore = (VnodeGetReply)RoundTrip(new VnodeGetReply(3, 9, Obj, null) { Stored = KvObjectCodec.Encode(Obj) });
        Assert.True(fromStore.Object!.SameAs(Obj));
        Assert.False(fromStore.Unsynced);
        Assert.True(((VnodeGetReply)RoundTrip(new VnodeGetReply(3, 9, null, null) { Unsynced = true })).Unsynced);
        Assert.Equal(new FillRequest(5, 6, "kv://kv@h:1"), RoundTrip(new FillRequest(5, 6, "kv://kv@h:1")));
        Assert.Equal(new FillDone(5, 6), RoundTrip(new FillDone(5, 6)));
        Assert.Equal("disk", ((VnodePutReply)RoundTrip(new VnodePutReply(3, 9, null, false, "disk"))).Error);
        var batch = (HandoffBatch)RoundTrip(new HandoffBatch(4, 2, [(Key, KvObjectCodec.Encode(Obj))], "kv://kv@h:1"));
        Assert.Equal((4, 2L, "kv://kv@h:1"), (batch.Partition, batch.Seq, batch.From));
        Assert.Equal(Key, batch.Items[0].Key);
        Assert.Equal(ARing, ((RingGossip)RoundTrip(new RingGossip(ARing))).Ring);
        var lost = ARing.Reclaim(["a", "b"], new HashSet<string>(["a", "b"]), [], 4);
        Assert.Equal(lost.Lost, ((RingGossip)RoundTrip(new RingGossip(lost))).Ring.Lost);
        Assert.Equal(ARing, ((CurrentRing)RoundTrip(new CurrentRing(ARing))).Ring);
        Assert.Null(((CurrentRing)RoundTrip(new CurrentRing(null))).Ring);
        var kvPut = (KvPut)RoundTrip(new KvPut(Ns, Key, Value, Ctx, Options with { Hops = 1 }));
        Assert.Equal(Options with { Hops = 1 }, kvPut.Options);
        Assert.Equal(RequestOptions.None, ((KvGet)RoundTrip(new KvGet(Ns, Key, RequestOptions.None))).Options);
        Assert.Equal(Ctx, ((KvDelete)RoundTrip(new KvDelete(Ns, Key, Ctx, Options))).Context);
        var failed = new QuorumNotMet("put", 2, 3, 1, 2, "timed out");
        Assert.Equal(failed, RoundTrip(failed));
        Assert.Equal(new RequestFailed("no ring"), RoundTrip(new RequestFailed("no ring")));
        Assert.Equal(new PutRefused("too many siblings"), RoundTrip(new PutRefused("too many siblings")));
        Assert.Equal(Ctx, ((NotFound)RoundTrip(new NotFound(Ctx))).Context);
        Assert.True(((GetSucceeded)RoundTrip(new GetSucceeded(Obj))).Object.SameAs(Obj));
        var ok = (PutSucceeded)RoundTrip(new PutSucceeded(Obj, 2, 1, Ctx));
        Assert.Equal((2, 1, Ctx), (ok.Acks, ok.DurableAcks, ok.Context));
        Assert.True(ok.Object!.SameAs(Obj));
        Assert.Same(GetRing.Instance, RoundTrip(GetRing.Instance));
        Assert.Equal(new HandoffBatchAck(4, 2, "disk full"), RoundTrip(new HandoffBatchAck(4, 2, "disk full")));
        Assert.Equal(new HandoffBatchAck(4, 2, null), RoundTrip(new HandoffBatchAck(4, 2, null)));
        var status = (HandoffStatus)RoundTrip(Status);
        Assert.Equal(Status.Transfers, status.Transfers);
        Assert.Equal(Status.Vnodes, status.Vnodes);
        Assert.Equal(Status.Retired, status.Retired);
        var transfers = (ClusterTransfers)RoundTrip(new ClusterTransfers([new NodeTransfers("n1", Status, null), new NodeTransfers("n2", null, "no answer")]));
        Assert.Equal(Status.Transfers, transfers.Nodes[0].Status!.Transfers);
        Assert.Equal(("n2", (HandoffStatus?)null, "no answer"), (transfers.Nodes[1].Node, transfers.Nodes[1].Status, transfers.Nodes[1].Error));
        var cluster = (ClusterStatus)RoundTrip(new ClusterStatus("n1", null, false, [new MemberInfo("n1", "Up", false, ["kv", "x"])], null, 5));
        Assert.Equal(("n1", (string?)null, false, (Ring.Ring?)null, 5, false), (cluster.Self, cluster.Leader, cluster.Convergence, cluster.Ring, cluster.DefaultNVal, cluster.Serving));
        Assert.True(((ClusterStatus)RoundTrip(new ClusterStatus("n1", null, false, [], null, 3) { Serving = true })).Serving);
        Assert.Equal(("n1", "Up", false), (cluster.Members[0].Address, cluster.Members[0].Status, cluster.Members[0].Reachable));
        Assert.Equal(["kv", "x"], cluster.Members[0].Roles);
        Assert.Equal(["n2", "n3"], ((ChaosSetFaults)RoundTrip(new ChaosSetFaults(["n2", "n3"]))).Blocked);
        Assert.Equal(new AdminReply(false, "no"), RoundTrip(new AdminReply(false, "no")));
    }

    [Fact]
    public void Batches_and_replica_envelopes_cross_the_wire_with_every_item_intact_and_refuse_what_they_cannot_carry()
    {
        var many = (KvGetMany)RoundTrip(new KvGetMany(Ns, [Key, "k2"u8.ToArray()], Options));
        Assert.Equal([Key, "k2"u8.ToArray()], many.Keys);
        Assert.Equal(Options, many.Options);
        var puts = (KvPutMany)RoundTrip(new KvPutMany(Ns, [new KvPutManyItem(Key, Value, Ctx), new KvPutManyItem("k2"u8.ToArray(), Value, VersionVector.Empty)], RequestOptions.None));
        Assert.Equal(Key, puts.Items[0].Key);
        Assert.Equal((Value, Ctx), (puts.Items[0].Value, puts.Items[0].Context));
        Assert.Equal(VersionVector.Empty, puts.Items[1].Context);

        var reply = (KvManyReply)RoundTrip(BatchReplySample);
        Assert.Equal(BatchReplySample.Outcomes.Select(o => o.GetType()), reply.Outcomes.Select(o => o.GetType()));
        Assert.True(((GetSucceeded)reply.Outcomes[0]).Object.SameAs(Obj));
        Assert.Equal(Ctx, ((NotFound)reply.Outcomes[1]).Context);
        Assert.Equal(new RequestFailed("bad key", FailureCode.InvalidKey), reply.Outcomes[4]);

        var batch = (ReplicaBatch)RoundTrip(ReplicaBatchSample);
        Assert.Equal((77L, 5000L), (batch.BatchId, batch.TimeoutMs));
        Assert.Equal(ReplicaBatchSample.Items.Select(i => (i.Slot, i.Partition, i.Hints, i.Message.GetType())), batch.Items.Select(i => (i.Slot, i.Partition, i.Hints, i.Message.GetType())));
        Assert.Equal(9, ((VnodeGet)batch.Items[0].Message).RequestId);
        var apply = (VnodeApply)batch.Items[2].Message;
        Assert.Equal(VnodeApply.NoReply, apply.RequestId);
        Assert.True(apply.Object.SameAs(Obj));
        Assert.Equal("akka.tcp://kv@h:2", ((Hints.HintApply)batch.Items[4].Message).Target);

        var back = (ReplicaBatchReply)RoundTrip(ReplicaBatchReplySample);
        Assert.True(((VnodeGetReply)back.Items[0].Message).Object!.SameAs(Obj));
        Assert.Equal((1, "disk"), (back.Items[1].Slot, ((VnodePutReply)back.Items[1].Message).Error));

        // An envelope carries only its own kinds: a client request inside a replica envelope is refused on the way out ...
        var serializer = Serialization.FindSerializerFor(ReplicaBatchSample);
        Assert.Throws<SerializationException>(() => serializer.ToBinary(new ReplicaBatch(1, 1, [new ReplicaBatchItem(0, 0, false, new KvGet(Ns, Key, Options))])));
        // ... and on the way in (a KvGet under type id 221 where a vnode request must be).
        var forged = new Protos.ReplicaBatchData { BatchId = 1, Items = { new Protos.ReplicaBatchItemData { Message = new Protos.NestedMessageData { Type = 221, Payload = Google.Protobuf.ByteString.CopyFrom(serializer.ToBinary(new KvGet(Ns, Key, Options))) } } } };
        var e = Assert.Throws<SerializationException>(() => Serialization.Deserialize(Google.Protobuf.MessageExtensions.ToByteArray(forged), KvSerializer.Id, "267"));
        Assert.Contains("not allowed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_messages_cross_the_wire_intact_and_a_malformed_scanned_object_is_refused()
    {
        var scan = (Scans.KvScan)RoundTrip(new Scans.KvScan(Ns, Scans.ScanRange.Between("a"u8.ToArray(), null), 50, null, Options));
        Assert.Equal(("a", true, true, 50, (string?)null, Options), (Encoding.UTF8.GetString(scan.Range.Start!), scan.Range.End is null, scan.Range.Prefix is null, scan.Limit, scan.After, scan.Options));
        var all = (Scans.KvScan)RoundTrip(new Scans.KvScan(Ns, Scans.ScanRange.All, 1, "t", RequestOptions.None));
        Assert.Equal(Scans.ScanRange.All.Prefix, all.Range.Prefix);
        Assert.Equal(("t", RequestOptions.None), (all.After, all.Options));
        var prefixed = (Scans.KvScan)RoundTrip(new Scans.KvScan(Ns, Scans.ScanRange.WithPrefix("p"u8.ToArray()), 1, null, RequestOptions.None));
        Assert.Equal("p"u8.ToArray(), prefixed.Range.Prefix);
        var page = (Scans.ScanPage)RoundTrip(new Scans.ScanPage([new Scans.ScanItem(Key, Obj)], null));
        Assert.Null(page.NextToken);
        Assert.Equal(Key, page.Items[0].Key);
        Assert.True(page.Items[0].Object.SameAs(Obj));
        Assert.Equal("n", ((Scans.ScanPage)RoundTrip(new Scans.ScanPage([], "n"))).NextToken);
        var vs = (Scans.VnodeScan)RoundTrip(new Scans.VnodeScan(77, Ns, [1, 2, 3], 16, [0, 7, 1], [0, 7, 2], 256, 4096));
        Assert.Equal((77L, 16, 256, 4096), (vs.ScanId, vs.RingSize, vs.ChunkKeys, vs.ChunkBytes));
        Assert.Equal([1, 2, 3], vs.Partitions);
        Assert.Equal([0, 7, 1], vs.Lower);
        Assert.Equal([0, 7, 2], vs.Upper);
        var chunk = (Scans.VnodeScanChunk)RoundTrip(new Scans.VnodeScanChunk(77, 3, [new Scans.ScanEntry(Key, KvObjectCodec.Encode(Obj))], true, false, null));
        Assert.Equal((77L, 3, true, false, (string?)null), (chunk.ScanId, chunk.Partition, chunk.Done, chunk.Unsynced, chunk.Error));
        Assert.Equal(KvObjectCodec.Encode(Obj), chunk.Items[0].Object);
        var failed = (Scans.VnodeScanChunk)RoundTrip(new Scans.VnodeScanChunk(77, 3, [], true, true, "disk"));
        Assert.Equal((true, "disk"), (failed.Unsynced, failed.Error));
        Assert.Equal(new Scans.VnodeScanNext(5, false), RoundTrip(new Scans.VnodeScanNext(5, false)));
        // A chunk whose object is not one is refused by the transport, never merged into a page.
        var garbage = new Protos.VnodeScanChunkData { ScanId = 1, Items = { new Protos.ScanEntryData { Key = Google.Protobuf.ByteString.CopyFromUtf8("k"), Object = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) } } };
        var e = Assert.Throws<SerializationException>(() => Serialization.Deserialize(Google.Protobuf.MessageExtensions.ToByteArray(garbage), KvSerializer.Id, "275"));
        Assert.Contains("malformed VnodeScanChunk", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_metrics_snapshot_crosses_the_wire_with_every_sample_intact()
    {
        var back = Assert.IsType<Metrics.ClusterMetrics>(RoundTrip(new Metrics.ClusterMetrics([new Metrics.NodeMetrics("akka.tcp://kv@h:1", MetricsSample, null), new Metrics.NodeMetrics("akka.tcp://kv@h:3", null, "no answer")])));
        Assert.Equal(2, back.Nodes.Count);
        Assert.Equal(MetricsSample.Samples, back.Nodes[0].Snapshot!.Samples);
        Assert.Equal((MetricsSample.Node, MetricsSample.TakenAtMs), (back.Nodes[0].Snapshot!.Node, back.Nodes[0].Snapshot!.TakenAtMs));
        Assert.Null(back.Nodes[0].Error);
        Assert.Null(back.Nodes[1].Snapshot);
        Assert.Equal("no answer", back.Nodes[1].Error);
        Assert.Equal(1234, back.Nodes[0].Snapshot!.Sum("kv.requests", "op=get", "ns=default"));
        Assert.Equal(0, back.Nodes[0].Snapshot!.Sum("kv.requests", "op=put"));
    }

    [Fact]
    public void An_unknown_manifest_is_refused_with_a_serialization_exception_naming_it()
    {
        var e = Assert.Throws<SerializationException>(() => Serialization.Deserialize([1, 2, 3], KvSerializer.Id, "999"));
        Assert.Contains("unknown manifest '999'", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<SerializationException>(() => Serialization.Deserialize([], KvSerializer.Id, "Kv.Actors.Vnode.VnodeGet, Kv.Actors"));
        Assert.Contains("unknown manifest 'Kv.Actors.Vnode.VnodeGet, Kv.Actors'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_payload_is_refused_with_a_serialization_exception_naming_the_type()
    {
        // Not protobuf at all.
        var e = Assert.Throws<SerializationException>(() => Serialization.Deserialize([0xFF, 0xFF, 0xFF, 0xFF], KvSerializer.Id, "202"));
        Assert.Contains("malformed VnodeApply (manifest 202, 4 bytes)", e.Message, StringComparison.Ordinal);
        // A truncated frame of a real message.
        byte[] whole = Serialization.FindSerializerFor(new KvPut(Ns, Key, Value, Ctx, Options)).ToBinary(new KvPut(Ns, Key, Value, Ctx, Options));
        e = Assert.Throws<SerializationException>(() => Serialization.Deserialize(whole[..(whole.Length / 2)], KvSerializer.Id, "220"));
        Assert.Contains("malformed KvPut", e.Message, StringComparison.Ordinal);
        // A stored-object field that is not an object is refused, not half-read.
        var garbage = new Protos.VnodeApplyData { Ns = Google.Protobuf.ByteString.CopyFromUtf8("d"), Object = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) };
        e = Assert.Throws<SerializationException>(() => Serialization.Deserialize(Google.Protobuf.MessageExtensions.ToByteArray(garbage), KvSerializer.Id, "202"));
        Assert.Contains("malformed VnodeApply", e.Message, StringComparison.Ordinal);
        // A causal context with a zero counter breaks an invariant: refused too.
        var badContext = new Protos.NotFoundData { Context = { new Protos.VvEntry { Id = "x", Counter = 0 } } };
        e = Assert.Throws<SerializationException>(() => Serialization.Deserialize(Google.Protobuf.MessageExtensions.ToByteArray(badContext), KvSerializer.Id, "225"));
        Assert.Contains("malformed NotFound", e.Message, StringComparison.Ordinal);
        Assert.IsType<FormatException>(e.InnerException);
    }
}
