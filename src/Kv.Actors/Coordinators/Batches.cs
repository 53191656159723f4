using Kv.Actors.Objects;

namespace Kv.Actors.Coordinators;

/// <summary>Bounds of a batch (kv mget / kv mput, GetManyAsync / PutManyAsync).</summary>
public static class BatchLimits
{
    /// <summary>The most keys one batch may carry; a larger batch is refused as a whole.</summary>
    public const int MaxKeys = 1000;

    /// <summary>
    /// What one batch message (a client's request or a node's answer, a replica envelope) should
    /// carry at most in values: past it a client splits its request, an envelope is sent and a new one
    /// started, and a node's answer refuses the values that no longer fit (read those keys alone).
    /// Well under the nodes' 4 MiB frame, with room for one more maximum-size object.
    /// </summary>
    public const int MaxMessageBytes = 1 << 20;
}

/// <summary>Read many keys of one namespace: one outcome per key, in the order of <see cref="Keys"/>.</summary>
public sealed record KvGetMany(byte[] Namespace, IReadOnlyList<byte[]> Keys, RequestOptions Options);

/// <summary>One write of a <see cref="KvPutMany"/>.</summary>
public sealed record KvPutManyItem(byte[] Key, Sibling Value, VersionVector Context);

/// <summary>Write many keys of one namespace: one outcome per item, in order.</summary>
public sealed record KvPutMany(byte[] Namespace, IReadOnlyList<KvPutManyItem> Items, RequestOptions Options);

/// <summary>
/// The answer to <see cref="KvGetMany"/> or <see cref="KvPutMany"/>: for each key, in the request's
/// order, what a single request would have answered (<see cref="GetSucceeded"/>, <see cref="NotFound"/>,
/// <see cref="PutSucceeded"/>, <see cref="PutRefused"/>, <see cref="QuorumNotMet"/>, <see cref="RequestFailed"/>).
/// A batch refused as a whole is answered with one <see cref="RequestFailed"/> instead.
/// </summary>
public sealed record KvManyReply(IReadOnlyList<object> Outcomes);

/// <summary>
/// Many replica requests from one batch coordinator to the vnodes (or the hint store) of one node, in
/// one remote message. The receiving node hands each to its local target and answers with
/// <see cref="ReplicaBatchReply"/>s; <see cref="ReplicaBatchItem.Slot"/> tells the coordinator which of
/// its per-key coordinators an answer is for.
/// </summary>
public sealed record ReplicaBatch(long BatchId, long TimeoutMs, IReadOnlyList<ReplicaBatchItem> Items);

/// <summary>One replica request of a <see cref="ReplicaBatch"/>: to the vnode of <see cref="Partition"/>, or to the hint store.</summary>
public sealed record ReplicaBatchItem(int Slot, int Partition, bool Hints, object Message);

/// <summary>Answers of the vnodes of one node to (part of) a <see cref="ReplicaBatch"/>, in one remote message.</summary>
public sealed record ReplicaBatchReply(long BatchId, IReadOnlyList<ReplicaBatchReplyItem> Items);

/// <summary>One answer of a <see cref="ReplicaBatchReply"/>, for the per-key coordinator of <see cref="Slot"/>.</summary>
public sealed record ReplicaBatchReplyItem(int Slot, object Message);
