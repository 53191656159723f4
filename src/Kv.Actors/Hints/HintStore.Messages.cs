using Kv.Actors.Objects;

namespace Kv.Actors.Hints;

/// <summary>
/// From a put coordinator to a fallback's hint store: keep <see cref="Object"/> for
/// <see cref="Partition"/> while its primary <see cref="Target"/> is away, and hand it over when it
/// is back. The answer is a <see cref="Vnode.VnodePutReply"/> for the partition: durable once the
/// hint is in the journal, or an error when the hint was dropped (target past its hint window or
/// its size cap).
/// </summary>
public sealed record HintApply(int Partition, string Target, byte[] Namespace, byte[] Key, DvvSet<Sibling> Object, long RequestId);

/// <summary>
/// From a get coordinator to a fallback's hint store: what it holds for the key in the partition,
/// as a <see cref="Vnode.VnodeGetReply"/>. A not-found from a fallback abstains (it is marked
/// unsynced): a stand-in that holds nothing says nothing about the key.
/// </summary>
public sealed record HintGet(int Partition, byte[] Namespace, byte[] Key, long RequestId);

/// <summary>Asks a node's hint store for its hints per target; the answer is a <see cref="HintStatus"/>.</summary>
public sealed record GetHintStatus
{
    public static readonly GetHintStatus Instance = new();
}

/// <summary>
/// One holder's hints for one target node: how many, their bytes, the oldest's age, the state
/// ("delivering": the target is back, batches going; "waiting": it is away; "window passed": new
/// hints for it are dropped; "empty"), and how many were dropped and delivered since the store began.
/// </summary>
public sealed record HintTargetStatus(string Target, long Count, long Bytes, long OldestAgeMs, string State, long Dropped, long Delivered);

/// <summary>A node's hint store: its hints per target.</summary>
public sealed record HintStatus(string Holder, IReadOnlyList<HintTargetStatus> Targets);

/// <summary>To any node's admin actor: every member's <see cref="HintStatus"/>.</summary>
public sealed record GetClusterHints
{
    public static readonly GetClusterHints Instance = new();
}

/// <summary>Every member's hint status, or why it did not answer.</summary>
public sealed record ClusterHints(IReadOnlyList<NodeHints> Nodes);

public sealed record NodeHints(string Node, HintStatus? Status, string? Error);

// The hint store's journal events and snapshot (persisted with KvSerializer).

/// <summary>Event: a hint was accepted; its id is the event's sequence number.</summary>
public sealed record HintAdded(string Target, int Partition, byte[] Namespace, byte[] Key, byte[] Object, long AtMs);

/// <summary>Event: these hints were merged durably by their partition's owner; they are gone.</summary>
public sealed record HintsDelivered(IReadOnlyList<long> Ids);

/// <summary>A stored hint.</summary>
public sealed record StoredHint(long Id, HintAdded Hint);

/// <summary>Snapshot: the hints held, and the per-target counters.</summary>
public sealed record HintSnapshot(IReadOnlyList<StoredHint> Hints, IReadOnlyDictionary<string, long> Dropped, IReadOnlyDictionary<string, long> Delivered);
