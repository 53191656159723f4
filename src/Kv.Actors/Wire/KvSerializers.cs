using Google.Protobuf;
using Kv.Actors.Aae;
using Kv.Actors.Admin;
using Kv.Actors.Coordinators;
using Kv.Actors.Hints;
using Kv.Actors.Objects;
using Kv.Actors.Protos;
using Kv.Actors.Ring;
using Kv.Actors.Scans;
using Kv.Actors.Vnode;

namespace Kv.Actors.Wire;

/// <summary>
/// Every message the store sends between nodes and clients, each with a stable type id (200 and up; 256..263 TTL and exists, 264..271 batches,
/// 272..279 scans, 280..299 data types, 320..329 backup)
/// that is its manifest on the wire (the schema is Protos/kv.proto); <see cref="KvSerializer"/>
/// uses this table.
/// </summary>
internal static partial class KvSerializers
{
    /// <summary>The codecs by type id.</summary>
    public static readonly IReadOnlyDictionary<int, IWireCodec> ById = Build();

    private static Dictionary<int, IWireCodec> Build()
    {
        var registry = new Dictionary<int, IWireCodec>();
        Add<VnodeGet, VnodeGetData>(registry, 200,
            m => new VnodeGetData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), RequestId = m.RequestId, Head = m.Head },
            d => new VnodeGet(d.Ns.ToByteArray(), d.Key.ToByteArray(), d.RequestId) { Head = d.Head });
        Add<VnodeCoordinatePut, VnodeCoordinatePutData>(registry, 201,
            m => new VnodeCoordinatePutData
            {
                Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Context = { ToWire(m.Context) }, Value = ToWire(m.Value),
                RequestId = m.RequestId, MaxSiblings = m.MaxSiblings, WarnSiblings = m.WarnSiblings, LastWriteWins = m.LastWriteWins,
            },
            d => new VnodeCoordinatePut(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Context), FromWire(d.Value), d.RequestId,
                d.MaxSiblings, d.WarnSiblings, d.LastWriteWins));
        Add<VnodeApply, VnodeApplyData>(registry, 202,
            m => new VnodeApplyData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Object = Encoding(m.Object, m.Encoded), Durable = m.Durable, RequestId = m.RequestId },
            d => new VnodeApply(d.Ns.ToByteArray(), d.Key.ToByteArray(), Decode(d.Object), d.Durable, d.RequestId) { Encoded = d.Object.Memory });
        Add<VnodeReap, VnodeReapData>(registry, 203,
            m => new VnodeReapData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Object = Encode(m.Object) },
            d => new VnodeReap(d.Ns.ToByteArray(), d.Key.ToByteArray(), Decode(d.Object)));
        Add<VnodeGetReply, VnodeGetReplyData>(registry, 204,
            m => new VnodeGetReplyData
            {
                Partition = m.Partition, RequestId = m.RequestId,
                Object = m.Stored is { } stored ? UnsafeByteOperations.UnsafeWrap(stored) : m.Object is null ? ByteString.Empty : Encode(m.Object),
                Error = m.Error ?? "", HasError = m.Error is not null, Unsynced = m.Unsynced,
            },
            d => new VnodeGetReply(d.Partition, d.RequestId, null, d.HasError ? d.Error : null) { Stored = d.Object.IsEmpty ? NoBytes : Validated(d.Object), Unsynced = d.Unsynced });
        Add<VnodePutReply, VnodePutReplyData>(registry, 205,
            m => new VnodePutReplyData
            {
                Partition = m.Partition, RequestId = m.RequestId, Object = m.Object is null ? ByteString.Empty : Encoding(m.Object, m.Encoded),
                Durable = m.Durable, Error = m.Error ?? "", HasError = m.Error is not null,
            },
            d => new VnodePutReply(d.Partition, d.RequestId, d.Object.IsEmpty ? null : Decode(d.Object), d.Durable, d.HasError ? d.Error : null)
            {
                Encoded = d.Object.IsEmpty ? NoBytes : d.Object.Memory,
            });
        Add<HandoffBatch, HandoffBatchData>(registry, 206,
            m => new HandoffBatchData
            {
                Partition = m.Partition, Seq = m.Seq, From = m.From,
                Items = { m.Items.Select(i => new HandoffItem { Key = Bytes(i.Key), Object = Bytes(i.Object) }) },
            },
            d => new HandoffBatch(d.Partition, d.Seq, d.Items.Select(i => (i.Key.ToByteArray(), i.Object.ToByteArray())).ToList(), d.From));
        Add<HandoffBatchAck, HandoffBatchAckData>(registry, 207,
            m => new HandoffBatchAckData { Partition = m.Partition, Seq = m.Seq, Error = m.Error ?? "" },
            d => new HandoffBatchAck(d.Partition, d.Seq, d.Error.Length == 0 ? null : d.Error));
        Add<FillRequest, FillRequestData>(registry, 240,
            m => new FillRequestData
            {
                Partition = m.Partition, For = m.For, Node = m.Node, HasRanges = m.Ranges is not null,
                Ranges = { (m.Ranges ?? []).Select(r => new KeyRangeData { Low = Bytes(r.Low), High = Bytes(r.High) }) },
            },
            d => new FillRequest(d.Partition, d.For, d.Node)
            {
                Ranges = d.HasRanges ? d.Ranges.Select(r => new Kv.Storage.KeyRange(r.Low.ToByteArray(), r.High.ToByteArray())).ToList() : null,
            });
        Add<FillDone, FillDoneData>(registry, 241, m => new FillDoneData { Partition = m.Partition, For = m.For }, d => new FillDone(d.Partition, d.For));
        Add<RingGossip, RingData>(registry, 210, m => ToWire(m.Ring), d => new RingGossip(FromWire(d)));
        Add<TransferComplete, TransferCompleteData>(registry, 211,
            m => new TransferCompleteData { Partition = m.Partition, From = m.From, To = m.To },
            d => new TransferComplete(d.Partition, d.From, d.To));
        Add<LeaveRing, LeaveRingData>(registry, 212, m => new LeaveRingData { Node = m.Node }, d => new LeaveRing(d.Node));
        Add<RejoinRing, RejoinRingData>(registry, 215, m => new RejoinRingData { Node = m.Node }, d => new RejoinRing(d.Node));
        Add<GetRing, EmptyData>(registry, 213, _ => new EmptyData(), _ => GetRing.Instance);
        Add<CurrentRing, CurrentRingData>(registry, 214,
            m =>
            {
                var d = m.Ring is null ? new CurrentRingData() : new CurrentRingData { HasRing = true, Ring = ToWire(m.Ring) };
                d.ConsistentNamespaces.AddRange(m.ConsistentNamespaces);
                return d;
            },
            d => new CurrentRing(d.HasRing ? FromWire(d.Ring ?? throw new FormatException("ring missing")) : null) { ConsistentNamespaces = d.ConsistentNamespaces.Count == 0 ? [] : d.ConsistentNamespaces.ToList() });
        Add<GetClusterStatus, EmptyData>(registry, 230, _ => new EmptyData(), _ => GetClusterStatus.Instance);
        Add<ClusterStatus, ClusterStatusData>(registry, 231,
            m => new ClusterStatusData
            {
                Self = m.Self, Leader = m.Leader ?? "", Convergence = m.Convergence, DefaultNVal = m.DefaultNVal, HasRing = m.Ring is not null, Serving = m.Serving,
                Ring = m.Ring is null ? null : ToWire(m.Ring),
                Members = { m.Members.Select(i => new MemberInfoData { Address = i.Address, Status = i.Status, Reachable = i.Reachable, Roles = { i.Roles } }) },
            },
            d => new ClusterStatus(d.Self, d.Leader.Length == 0 ? null : d.Leader, d.Convergence,
                d.Members.Select(i => new MemberInfo(i.Address, i.Status, i.Reachable, i.Roles.ToList())).ToList(),
                d.HasRing ? FromWire(d.Ring ?? throw new FormatException("ring missing")) : null, d.DefaultNVal) { Serving = d.Serving });
        Add<GetTransfers, EmptyData>(registry, 232, _ => new EmptyData(), _ => GetTransfers.Instance);
        Add<ClusterTransfers, ClusterTransfersData>(registry, 233,
            m => new ClusterTransfersData
            {
                Nodes = { m.Nodes.Select(n => new NodeTransfersData { Node = n.Node, HasStatus = n.Status is not null, Status = n.Status is null ? null : ToWire(n.Status), Error = n.Error ?? "" }) },
            },
            d => new ClusterTransfers(d.Nodes.Select(n => new NodeTransfers(n.Node, n.HasStatus ? FromWire(n.Status ?? new HandoffStatusData()) : null, n.Error.Length == 0 ? null : n.Error)).ToList()));
        Add<LeaveNode, NodeData>(registry, 234, m => new NodeData { Node = m.Node }, d => new LeaveNode(d.Node));
        Add<DownNode, NodeData>(registry, 235, m => new NodeData { Node = m.Node }, d => new DownNode(d.Node));
        Add<AdminReply, AdminReplyData>(registry, 236, m => new AdminReplyData { Ok = m.Ok, Message = m.Message }, d => new AdminReply(d.Ok, d.Message));
        Add<ChaosSetFaults, ChaosSetFaultsData>(registry, 246, m => new ChaosSetFaultsData { Blocked = { m.Blocked } }, d => new ChaosSetFaults(d.Blocked.ToList()));
        Add<GetHandoffStatus, EmptyData>(registry, 237, _ => new EmptyData(), _ => GetHandoffStatus.Instance);
        Add<HandoffStatus, HandoffStatusData>(registry, 238, ToWire, FromWire);
        Add<KvPut, KvPutData>(registry, 220,
            m => new KvPutData
            {
                Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Value = ToWire(m.Value), Context = { ToWire(m.Context) }, Options = ToWire(m.Options),
                HasTtl = m.Ttl.HasValue, TtlMs = m.Ttl.HasValue ? TtlMs(m.Ttl.Value) : 0,
            },
            d => new KvPut(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Value), FromWire(d.Context), FromWire(d.Options))
            {
                Ttl = d.HasTtl ? TimeSpan.FromMilliseconds(Math.Clamp(d.TtlMs, -TtlWireLimitMs, TtlWireLimitMs)) : null,
            });
        Add<KvGet, KvGetData>(registry, 221,
            m => new KvGetData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Options = ToWire(m.Options) },
            d => new KvGet(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Options)));
        Add<KvDelete, KvPutData>(registry, 222,
            m => new KvPutData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Context = { ToWire(m.Context) }, Options = ToWire(m.Options) },
            d => new KvDelete(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Context), FromWire(d.Options)));
        Add<PutSucceeded, PutSucceededData>(registry, 223,
            m => new PutSucceededData
            {
                Object = m.Object is null ? ByteString.Empty : Encode(m.Object), Acks = m.Acks, DurableAcks = m.DurableAcks, Context = { ToWire(m.Context) },
            },
            d => new PutSucceeded(d.Object.IsEmpty ? null : Decode(d.Object), d.Acks, d.DurableAcks, FromWire(d.Context)));
        Add<GetSucceeded, GetSucceededData>(registry, 224,
            m => new GetSucceededData { Object = m.Stored is { } stored ? UnsafeByteOperations.UnsafeWrap(stored) : Encode(m.Object) },
            d => new GetSucceeded(Decode(d.Object)));
        Add<NotFound, NotFoundData>(registry, 225, m => new NotFoundData { Context = { ToWire(m.Context) } }, d => new NotFound(FromWire(d.Context)));
        Add<QuorumNotMet, KvFailureData>(registry, 226,
            m => new KvFailureData
            {
                Kind = 1, Operation = m.Operation, Answered = m.Answered, Needed = m.Needed,
                DurableAnswered = m.DurableAnswered, DurableNeeded = m.DurableNeeded, Detail = m.Detail ?? "",
            },
            d => new QuorumNotMet(d.Operation, d.Answered, d.Needed, d.DurableAnswered, d.DurableNeeded, d.Detail.Length == 0 ? null : d.Detail));
        Add<PutRefused, KvFailureData>(registry, 227, m => new KvFailureData { Kind = 2, Detail = m.Reason }, d => new PutRefused(d.Detail));
        Add<RequestFailed, KvFailureData>(registry, 228, m => new KvFailureData { Kind = 3, Detail = m.Reason, Code = (int)m.Code },
            d => new RequestFailed(d.Detail, Enum.IsDefined((FailureCode)d.Code) ? (FailureCode)d.Code : FailureCode.InvalidRequest));
        Add<HintApply, HintApplyData>(registry, 208,
            m => new HintApplyData { Partition = m.Partition, Target = m.Target, Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Object = Encode(m.Object), RequestId = m.RequestId },
            d => new HintApply(d.Partition, d.Target, d.Ns.ToByteArray(), d.Key.ToByteArray(), Decode(d.Object), d.RequestId));
        Add<HintGet, HintGetData>(registry, 209,
            m => new HintGetData { Partition = m.Partition, Ns = Bytes(m.Namespace), Key = Bytes(m.Key), RequestId = m.RequestId },
            d => new HintGet(d.Partition, d.Ns.ToByteArray(), d.Key.ToByteArray(), d.RequestId));
        Add<GetHintStatus, EmptyData>(registry, 216, _ => new EmptyData(), _ => GetHintStatus.Instance);
        Add<HintStatus, HintStatusData>(registry, 217, ToWire, FromWire);
        Add<GetClusterHints, EmptyData>(registry, 218, _ => new EmptyData(), _ => GetClusterHints.Instance);
        Add<ClusterHints, ClusterHintsData>(registry, 219,
            m => new ClusterHintsData
            {
                Nodes = { m.Nodes.Select(n => new NodeHintsData { Node = n.Node, HasStatus = n.Status is not null, Status = n.Status is null ? null : ToWire(n.Status), Error = n.Error ?? "" }) },
            },
            d => new ClusterHints(d.Nodes.Select(n => new NodeHints(n.Node, n.HasStatus ? FromWire(n.Status ?? new HintStatusData()) : null, n.Error.Length == 0 ? null : n.Error)).ToList()));
        Add<HintAdded, HintAddedData>(registry, 242, ToWire, FromWire);
        Add<HintsDelivered, HintsDeliveredData>(registry, 243, m => new HintsDeliveredData { Ids = { m.Ids } }, d => new HintsDelivered(d.Ids.ToList()));
        Add<HintSnapshot, HintSnapshotData>(registry, 244,
            m => new HintSnapshotData
            {
                Hints = { m.Hints.Select(h => new StoredHintData { Id = h.Id, Hint = ToWire(h.Hint) }) },
                Dropped = { m.Dropped.ToDictionary() }, Delivered = { m.Delivered.ToDictionary() },
            },
            d => new HintSnapshot(
                d.Hints.Select(h => new StoredHint(h.Id, FromWire(h.Hint ?? throw new FormatException("a stored hint is missing its hint")))).ToList(),
                d.Dropped.ToDictionary(), d.Delivered.ToDictionary()));
        Add<AaeTreeRequest, AaeTreeRequestData>(registry, 250,
            m => new AaeTreeRequestData { Partition = m.Partition, Pref = m.Pref, N = m.N, Level = m.Level, Indices = { m.Indices }, RequestId = m.RequestId },
            d => new AaeTreeRequest(d.Partition, d.Pref, d.N, d.Level, d.Indices.ToList(), d.RequestId));
        Add<AaeTreeReply, AaeTreeReplyData>(registry, 251,
            m => new AaeTreeReplyData
            {
                Partition = m.Partition, RequestId = m.RequestId, Ready = m.Ready, Hashes = { m.Hashes },
                Keys = { m.Keys.Select(k => new AaeKeyHashData { Key = Bytes(k.Key), Hash = k.Hash }) }, Error = m.Error ?? "", HasError = m.Error is not null,
            },
            d => new AaeTreeReply(d.Partition, d.RequestId, d.Ready, d.Hashes.ToList(), d.Keys.Select(k => new AaeKeyHash(k.Key.ToByteArray(), k.Hash)).ToList(),
                d.HasError ? d.Error : null));
        Add<GetAaeStatus, EmptyData>(registry, 252, _ => new EmptyData(), _ => GetAaeStatus.Instance);
        Add<AaeStatus, AaeStatusData>(registry, 253, ToWire, FromWire);
        Add<GetClusterAae, EmptyData>(registry, 254, _ => new EmptyData(), _ => GetClusterAae.Instance);
        Add<ClusterAae, ClusterAaeData>(registry, 255,
            m => new ClusterAaeData
            {
                Nodes = { m.Nodes.Select(n => new NodeAaeData { Node = n.Node, HasStatus = n.Status is not null, Status = n.Status is null ? null : ToWire(n.Status), Error = n.Error ?? "" }) },
            },
            d => new ClusterAae(d.Nodes.Select(n => new NodeAae(n.Node, n.HasStatus ? FromWire(n.Status ?? new AaeStatusData()) : null, n.Error.Length == 0 ? null : n.Error)).ToList()));
        // TTL and exists: 256..263.
        Add<KvExists, KvGetData>(registry, 256,
            m => new KvGetData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Options = ToWire(m.Options) },
            d => new KvExists(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Options)));
        Add<ExistsResult, KvExistsReplyData>(registry, 257,
            m => new KvExistsReplyData { Exists = m.Exists, Context = { ToWire(m.Context) } },
            d => new ExistsResult(d.Exists, FromWire(d.Context)));
        AddBatches(registry);
        AddMetrics(registry);
        AddConsistent(registry);
        // Scans (272..276).
        Add<KvScan, KvScanData>(registry, 272,
            m => new KvScanData
            {
                Ns = Bytes(m.Namespace), Range = ToWire(m.Range), Limit = m.Limit, HasAfter = m.After is not null, After = m.After ?? "", Options = ToWire(m.Options),
            },
            d => new KvScan(d.Ns.ToByteArray(), FromWire(d.Range), d.Limit, d.HasAfter ? d.After : null, FromWire(d.Options)));
        Add<ScanPage, ScanPageData>(registry, 273,
            m => new ScanPageData
            {
                Items = { m.Items.Select(i => new ScanEntryData { Key = Bytes(i.Key), Object = Encode(i.Object) }) },
                HasNext = m.NextToken is not null, NextToken = m.NextToken ?? "",
            },
            d => new ScanPage(d.Items.Select(i => new ScanItem(i.Key.ToByteArray(), Decode(i.Object))).ToList(), d.HasNext ? d.NextToken : null));
        Add<VnodeScan, VnodeScanData>(registry, 274,
            m => new VnodeScanData
            {
                ScanId = m.ScanId, Ns = Bytes(m.Namespace), Partitions = { m.Partitions }, RingSize = m.RingSize, Lower = Bytes(m.Lower), Upper = Bytes(m.Upper),
                ChunkKeys = m.ChunkKeys, ChunkBytes = m.ChunkBytes,
            },
            d => new VnodeScan(d.ScanId, d.Ns.ToByteArray(), d.Partitions.ToList(), d.RingSize, d.Lower.ToByteArray(), d.Upper.ToByteArray(), d.ChunkKeys, d.ChunkBytes));
        Add<VnodeScanChunk, VnodeScanChunkData>(registry, 275,
            m => new VnodeScanChunkData
            {
                ScanId = m.ScanId, Partition = m.Partition, Items = { m.Items.Select(i => new ScanEntryData { Key = Bytes(i.Key), Object = Bytes(i.Object) }) },
                Done = m.Done, Unsynced = m.Unsynced, HasError = m.Error is not null, Error = m.Error ?? "",
            },
            d => new VnodeScanChunk(d.ScanId, d.Partition, d.Items.Select(i => new ScanEntry(i.Key.ToByteArray(), ValidatedCopy(i.Object))).ToList(),
                d.Done, d.Unsynced, d.HasError ? d.Error : null));
        Add<VnodeScanNext, VnodeScanNextData>(registry, 276, m => new VnodeScanNextData { ScanId = m.ScanId, Stop = m.Stop }, d => new VnodeScanNext(d.ScanId, d.Stop));
        AddDataTypes(registry);
        AddSecurity(registry);
        AddBackup(registry);
        return registry;
    }

    /// <summary>TTLs beyond this (about 31 years, past <see cref="Expiry.MaxTtl"/>) are clamped to it on the wire: still refused, never an overflow.</summary>
    private const long TtlWireLimitMs = 1_000_000_000_000;

    /// <summary>A TTL in whole milliseconds on the wire (rounded up: a positive TTL stays positive; an absurd one stays absurd).</summary>
    private static long TtlMs(TimeSpan ttl) => (long)Math.Clamp(Math.Ceiling(ttl.TotalMilliseconds), -TtlWireLimitMs, TtlWireLimitMs);

    /// <summary>The CRDT data types' messages (280..299).</summary>
    private static void AddDataTypes(Dictionary<int, IWireCodec> registry)
    {
        Add<KvUpdate, KvUpdateData>(registry, 280,
            m => new KvUpdateData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Op = ToWire(m.Op), Options = ToWire(m.Options) },
            d => new KvUpdate(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Op), FromWire(d.Options)));
        Add<UpdateSucceeded, UpdateSucceededData>(registry, 281,
            m => new UpdateSucceededData
            {
                ContentType = m.ContentType, State = Bytes(m.State), Number = m.Number, Acks = m.Acks, DurableAcks = m.DurableAcks,
                HasResult = m.Result is not null, Result = m.Result is null ? ByteString.Empty : Bytes(m.Result),
            },
            d => new UpdateSucceeded(d.ContentType, d.State.ToByteArray(), d.Number, d.Acks, d.DurableAcks) { Result = d.HasResult ? d.Result.ToByteArray() : null });
        Add<VnodeCoordinateUpdate, VnodeCoordinateUpdateData>(registry, 282,
            m => new VnodeCoordinateUpdateData
            {
                Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Op = ToWire(m.Op), Datatype = (int)m.Datatype, RequestId = m.RequestId, MaxBytes = m.MaxBytes,
            },
            d => new VnodeCoordinateUpdate(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Op),
                Enum.IsDefined((Crdt.Datatype)d.Datatype) && d.Datatype != 0 ? (Crdt.Datatype)d.Datatype : throw new FormatException($"bad datatype {d.Datatype}"),
                d.RequestId, d.MaxBytes));
        Add<VnodeUpdateReply, VnodeUpdateReplyData>(registry, 283,
            m => new VnodeUpdateReplyData
            {
                Partition = m.Partition, RequestId = m.RequestId, Outcome = (int)m.Outcome, Number = m.Number,
                Object = m.Object is null ? ByteString.Empty : Encoding(m.Object, m.Encoded), Error = m.Error ?? "", HasError = m.Error is not null,
                HasResult = m.Result is not null, Result = m.Result is null ? ByteString.Empty : Bytes(m.Result),
            },
            d => new VnodeUpdateReply(d.Partition, d.RequestId,
                Enum.IsDefined((UpdateOutcome)d.Outcome) ? (UpdateOutcome)d.Outcome : throw new FormatException($"bad update outcome {d.Outcome}"),
                d.Object.IsEmpty ? null : Decode(d.Object), d.Number, d.HasError ? d.Error : null)
            {
                Encoded = d.Object.IsEmpty ? NoBytes : d.Object.Memory,
                Result = d.HasResult ? d.Result.ToByteArray() : null,
            });
    }

    private static CrdtOpData ToWire(Crdt.CrdtOp op) => new()
    {
        Kind = (int)op.Kind, Amount = op.Amount, Items = { op.Items.Select(Bytes) }, ValueType = op.ValueType,
    };

    private static Crdt.CrdtOp FromWire(CrdtOpData? d)
    {
        if (d is null)
            throw new FormatException("an update without its operation");
        if (!Enum.IsDefined((Crdt.CrdtOpKind)d.Kind))
            throw new FormatException($"unknown data type operation {d.Kind}");
        return new Crdt.CrdtOp((Crdt.CrdtOpKind)d.Kind, d.Amount, d.Items.Select(i => i.ToByteArray()).ToList(), d.ValueType);
    }

    private static void Add<T, TProto>(Dictionary<int, IWireCodec> registry, int typeId, Func<T, TProto> toProto, Func<TProto, T> fromProto)
        where T : notnull where TProto : IMessage<TProto>, new() =>
        registry.Add(typeId, new ProtoSerializer<T, TProto>(toProto, fromProto));

    private static ByteString Bytes(byte[] b) => UnsafeByteOperations.UnsafeWrap(b);

    private static ByteString Encode(DvvSet<Sibling> o) => UnsafeByteOperations.UnsafeWrap(KvObjectCodec.Encode(o));

    /// <summary>No encoding. (A bare null in a conditional with a ReadOnlyMemory would become an empty one.)</summary>
    private static readonly ReadOnlyMemory<byte>? NoBytes = null;

    /// <summary>An object's encoding: the one at hand if there is one (never changed once made), else a new one.</summary>
    private static ByteString Encoding(DvvSet<Sibling> o, ReadOnlyMemory<byte>? encoded) =>
        encoded is { } e ? UnsafeByteOperations.UnsafeWrap(e) : Encode(o);

    private static DvvSet<Sibling> Decode(ByteString b) => KvObjectCodec.Decode(b.Span);

    /// <summary>An object's encoding, checked: the parser's own copy (a ByteString never changes), not another.</summary>
    private static ReadOnlyMemory<byte> Validated(ByteString b)
    {
        KvObjectCodec.Validate(b.Span);
        return b.Memory;
    }

    /// <summary>An object's stored bytes off the wire, checked (a malformed one refuses the message).</summary>
    private static byte[] ValidatedCopy(ByteString b)
    {
        KvObjectCodec.Validate(b.Span);
        return b.ToByteArray();
    }

    private static ScanRangeData ToWire(ScanRange r) => new()
    {
        HasPrefix = r.Prefix is not null, Prefix = Bytes(r.Prefix ?? []), HasStart = r.Start is not null, Start = Bytes(r.Start ?? []),
        HasEnd = r.End is not null, End = Bytes(r.End ?? []),
    };

    private static ScanRange FromWire(ScanRangeData? d) => d is null ? ScanRange.All : new ScanRange(
        d.HasPrefix ? d.Prefix.ToByteArray() : null, d.HasStart ? d.Start.ToByteArray() : null, d.HasEnd ? d.End.ToByteArray() : null);

    private static IEnumerable<VvEntry> ToWire(VersionVector vv) => vv.Counters.Select(c => new VvEntry { Id = c.Key, Counter = c.Value });

    private static VersionVector FromWire(IEnumerable<VvEntry> entries)
    {
        var b = VersionVector.Empty.Counters.ToBuilder();
        foreach (var e in entries)
        {
            if (e.Counter < 1 || !b.TryAdd(e.Id, e.Counter))
                throw new FormatException($"bad causal context entry {e.Id}:{e.Counter}");
        }
        return new VersionVector(b.ToImmutable());
    }

    private static SiblingData ToWire(Sibling s) =>
        new() { Value = Bytes(s.Value), ContentType = s.ContentType, LastModifiedMs = s.LastModifiedMs, Deleted = s.Deleted, ExpiresAtMs = s.ExpiresAtMs };

    private static Sibling FromWire(SiblingData? d) =>
        d is null ? throw new FormatException("a value is missing")
        : d.ExpiresAtMs < 0 ? throw new FormatException("a value's expiry is negative")
        : new Sibling(d.Value.ToByteArray(), d.ContentType, d.LastModifiedMs, d.Deleted, d.ExpiresAtMs);

    private static RequestOptionsData ToWire(RequestOptions o) => new()
    {
        R = o.R ?? 0, W = o.W ?? 0, Dw = o.DW.HasValue ? o.DW.Value + 1 : 0, Pr = o.PR.HasValue ? o.PR.Value + 1 : 0, Pw = o.PW.HasValue ? o.PW.Value + 1 : 0,
        TimeoutMs = o.Timeout.HasValue ? (long)o.Timeout.Value.TotalMilliseconds : 0,
        NotfoundOk = Tri(o.NotFoundOk), BasicQuorum = Tri(o.BasicQuorum), ReturnBody = Tri(o.ReturnBody), Hops = o.Hops,
    };

    private static RequestOptions FromWire(RequestOptionsData? d) => d is null ? RequestOptions.None : new RequestOptions
    {
        R = d.R == 0 ? null : d.R, W = d.W == 0 ? null : d.W, DW = d.Dw == 0 ? null : d.Dw - 1, PR = d.Pr == 0 ? null : d.Pr - 1, PW = d.Pw == 0 ? null : d.Pw - 1,
        Timeout = d.TimeoutMs == 0 ? null : TimeSpan.FromMilliseconds(d.TimeoutMs),
        NotFoundOk = Tri(d.NotfoundOk), BasicQuorum = Tri(d.BasicQuorum), ReturnBody = Tri(d.ReturnBody), Hops = d.Hops,
    };

    private static int Tri(bool? b) => b is null ? 0 : b.Value ? 2 : 1;

    private static bool? Tri(int v) => v switch { 0 => null, 1 => false, 2 => true, _ => throw new FormatException($"bad flag {v}") };

    private static HintAddedData ToWire(HintAdded h) => new()
    {
        Target = h.Target, Partition = h.Partition, Ns = Bytes(h.Namespace), Key = Bytes(h.Key), Object = Bytes(h.Object), AtMs = h.AtMs,
    };

    private static HintAdded FromWire(HintAddedData d)
    {
        KvObjectCodec.Validate(d.Object.Span);
        return new HintAdded(d.Target, d.Partition, d.Ns.ToByteArray(), d.Key.ToByteArray(), d.Object.ToByteArray(), d.AtMs);
    }

    private static AaeStatusData ToWire(AaeStatus s) => new()
    {
        Node = s.Node,
        Exchanges =
        {
            s.Exchanges.Select(e => new AaeExchangeInfoData
            {
                Partition = e.Partition, PeerNode = e.PeerNode, PeerPartition = e.PeerPartition, Pref = e.Pref, N = e.N, EndedMs = e.EndedMs,
                KeysRepaired = e.KeysRepaired, TotalRepaired = e.TotalRepaired, Outcome = e.Outcome,
            }),
        },
        Trees = { s.Trees.Select(t => new AaeTreeInfoData { Partition = t.Partition, BuiltMs = t.BuiltMs, Keys = t.Keys, Building = t.Building }) },
    };

    private static AaeStatus FromWire(AaeStatusData d) => new(d.Node,
        d.Exchanges.Select(e => new AaeExchangeInfo(e.Partition, e.PeerNode, e.PeerPartition, e.Pref, e.N, e.EndedMs, e.KeysRepaired, e.TotalRepaired, e.Outcome)).ToList(),
        d.Trees.Select(t => new AaeTreeInfo(t.Partition, t.BuiltMs, t.Keys, t.Building)).ToList());

    private static HintStatusData ToWire(HintStatus s) => new()
    {
        Holder = s.Holder,
        Targets =
        {
            s.Targets.Select(t => new HintTargetStatusData
            {
                Target = t.Target, Count = t.Count, Bytes = t.Bytes, OldestAgeMs = t.OldestAgeMs, State = t.State, Dropped = t.Dropped, Delivered = t.Delivered,
            }),
        },
    };

    private static HintStatus FromWire(HintStatusData d) =>
        new(d.Holder, d.Targets.Select(t => new HintTargetStatus(t.Target, t.Count, t.Bytes, t.OldestAgeMs, t.State, t.Dropped, t.Delivered)).ToList());

    private static HandoffStatusData ToWire(HandoffStatus s) => new()
    {
        Vnodes = { s.Vnodes }, Retired = { s.Retired },
        Transfers =
        {
            s.Transfers.Select(t => new HandoffProgressData
            {
                Partition = t.Partition, Target = t.Target, State = (int)t.State, Keys = t.Keys, Bytes = t.Bytes, LastError = t.LastError ?? "",
            }),
        },
    };

    private static HandoffStatus FromWire(HandoffStatusData d) => new(
        d.Transfers.Select(t => new HandoffProgress(t.Partition, t.Target,
            Enum.IsDefined((HandoffState)t.State) ? (HandoffState)t.State : throw new FormatException($"bad handoff state {t.State}"),
            t.Keys, t.Bytes, t.LastError.Length == 0 ? null : t.LastError)).ToList(),
        d.Vnodes.ToList(), d.Retired.ToList());

    internal static RingData ToWire(Ring.Ring ring)
    {
        var d = new RingData { Version = ring.Version, Owners = { ring.Owners }, Next = { ring.Pending }, Leaving = { ring.Leaving }, Lost = { ring.Lost } };
        d.OwnerStamps.AddRange(ring.OwnerStamps.Select(ToWire));
        d.NextStamps.AddRange(ring.PendingStamps.Select(ToWire));
        d.LeaveMarks.AddRange(ring.LeaveMarks.Select(m => new LeaveMarkData { Node = m.Node, Leaving = m.Leaving, Stamp = ToWire(m.Stamp) }));
        d.Clock.AddRange(ring.Clock.Select(ToWire));
        d.Seen.AddRange(ring.Seen.Select(s => new SeenData { Node = s.Node, Clock = { s.Clock.Select(ToWire) } }));
        return d;
    }

    private static StampData ToWire(Stamp s) => new() { Counter = s.Counter, Claimant = s.Claimant };

    private static ClockEntryData ToWire((string Claimant, long Counter) c) => new() { Claimant = c.Claimant, Counter = c.Counter };

    private static Stamp FromWire(StampData? s) => s is null ? throw new FormatException("stamp missing") : new Stamp(s.Counter, s.Claimant);

    internal static Ring.Ring FromWire(RingData d)
    {
        try
        {
            if (d.OwnerStamps.Count == 0)
                return new Ring.Ring(d.Version, d.Owners, d.Next.Count == 0 ? null : d.Next, d.Leaving, d.Lost); // written before stamps
            return new Ring.Ring(d.Owners, d.Next, d.OwnerStamps.Select(FromWire).ToList(), d.NextStamps.Select(FromWire).ToList(),
                d.LeaveMarks.Select(m => (m.Node, m.Leaving, FromWire(m.Stamp))).ToList(),
                d.Clock.Select(c => (c.Claimant, c.Counter)).ToList(),
                d.Seen.Select(s => (s.Node, (IEnumerable<(string, long)>)s.Clock.Select(c => (c.Claimant, c.Counter)).ToList())).ToList(), d.Lost);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"bad ring: {e.Message}", e);
        }
    }
}
