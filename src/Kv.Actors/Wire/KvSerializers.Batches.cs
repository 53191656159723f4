using Google.Protobuf;
using Kv.Actors.Coordinators;
using Kv.Actors.Hints;
using Kv.Actors.Protos;
using Kv.Actors.Vnode;

namespace Kv.Actors.Wire;

/// <summary>
/// Wire types of batches (ids 264..268): multi-get and multi-put, their answer, and the replica
/// envelopes between nodes. An envelope nests store messages under their own type ids; each kind
/// of envelope accepts only the message types it can carry, anything else is a malformed message.
/// </summary>
internal static partial class KvSerializers
{
    private static readonly Type[] Outcomes = [typeof(GetSucceeded), typeof(NotFound), typeof(PutSucceeded), typeof(PutRefused), typeof(QuorumNotMet), typeof(RequestFailed)];
    private static readonly Type[] ReplicaRequests = [typeof(VnodeGet), typeof(VnodeApply), typeof(VnodeCoordinatePut), typeof(HintGet), typeof(HintApply)];
    private static readonly Type[] ReplicaReplies = [typeof(VnodeGetReply), typeof(VnodePutReply)];

    // Built on first use (after the registry): type to id.
    private static Dictionary<Type, int>? _idOf;

    private static void AddBatches(Dictionary<int, IWireCodec> registry)
    {
        Add<KvGetMany, KvGetManyData>(registry, 264,
            m => new KvGetManyData { Ns = Bytes(m.Namespace), Keys = { m.Keys.Select(Bytes) }, Options = ToWire(m.Options) },
            d => new KvGetMany(d.Ns.ToByteArray(), d.Keys.Select(k => k.ToByteArray()).ToList(), FromWire(d.Options)));
        Add<KvPutMany, KvPutManyData>(registry, 265,
            m => new KvPutManyData
            {
                Ns = Bytes(m.Namespace), Options = ToWire(m.Options),
                Items = { m.Items.Select(i => new KvPutManyItemData { Key = Bytes(i.Key), Value = ToWire(i.Value), Context = { ToWire(i.Context) } }) },
            },
            d => new KvPutMany(d.Ns.ToByteArray(), d.Items.Select(i => new KvPutManyItem(i.Key.ToByteArray(), FromWire(i.Value), FromWire(i.Context))).ToList(), FromWire(d.Options)));
        Add<KvManyReply, KvManyReplyData>(registry, 266,
            m => new KvManyReplyData { Outcomes = { m.Outcomes.Select(o => Nest(o, Outcomes)) } },
            d => new KvManyReply(d.Outcomes.Select(o => Unnest(o, Outcomes)).ToList()));
        Add<ReplicaBatch, ReplicaBatchData>(registry, 267,
            m => new ReplicaBatchData
            {
                BatchId = m.BatchId, TimeoutMs = m.TimeoutMs,
                Items = { m.Items.Select(i => new ReplicaBatchItemData { Slot = i.Slot, Partition = i.Partition, Hints = i.Hints, Message = Nest(i.Message, ReplicaRequests) }) },
            },
            d => new ReplicaBatch(d.BatchId, d.TimeoutMs, d.Items.Select(i => new ReplicaBatchItem(i.Slot, i.Partition, i.Hints, Unnest(i.Message, ReplicaRequests))).ToList()));
        Add<ReplicaBatchReply, ReplicaBatchReplyData>(registry, 268,
            m => new ReplicaBatchReplyData { BatchId = m.BatchId, Items = { m.Items.Select(i => new ReplicaBatchReplyItemData { Slot = i.Slot, Message = Nest(i.Message, ReplicaReplies) }) } },
            d => new ReplicaBatchReply(d.BatchId, d.Items.Select(i => new ReplicaBatchReplyItem(i.Slot, Unnest(i.Message, ReplicaReplies))).ToList()));
    }

    private static NestedMessageData Nest(object message, Type[] allowed)
    {
        var type = message.GetType();
        if (Array.IndexOf(allowed, type) < 0)
            throw new System.Runtime.Serialization.SerializationException($"kv: a {type.Name} cannot travel in this batch message");
        _idOf ??= ById.ToDictionary(e => e.Value.Type, e => e.Key);
        int id = _idOf[type];
        return new NestedMessageData { Type = id, Payload = UnsafeByteOperations.UnsafeWrap(ById[id].Write(message)) };
    }

    private static object Unnest(NestedMessageData? nested, Type[] allowed)
    {
        if (nested is null)
            throw new FormatException("a batch item is missing its message");
        if (!ById.TryGetValue(nested.Type, out var codec) || Array.IndexOf(allowed, codec.Type) < 0)
            throw new FormatException($"a batch item of type {nested.Type} is not allowed here");
        return codec.Read(nested.Payload.ToByteArray());
    }
}
