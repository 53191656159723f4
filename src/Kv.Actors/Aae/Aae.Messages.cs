namespace Kv.Actors.Aae;

/// <summary>
/// To a vnode: a level of its tree for preference list <see cref="Pref"/> with n_val <see cref="N"/>.
/// Level 0: the root; 1: the group hashes; 2: the segment hashes of the groups in
/// <see cref="Indices"/> (32 each, in that order); 3: the keys (with their item hashes) of the
/// segments in <see cref="Indices"/>. The answer is an <see cref="AaeTreeReply"/>.
/// </summary>
public sealed record AaeTreeRequest(int Partition, int Pref, int N, int Level, IReadOnlyList<int> Indices, long RequestId);

/// <summary>A vnode's answer: not <see cref="Ready"/> while its trees are not built (or it handed its data off).</summary>
public sealed record AaeTreeReply(int Partition, long RequestId, bool Ready, IReadOnlyList<ulong> Hashes, IReadOnlyList<AaeKeyHash> Keys, string? Error);

/// <summary>A storage key (namespace and key) with its item hash.</summary>
public sealed record AaeKeyHash(byte[] Key, ulong Hash);

/// <summary>Asks a node's sync actor for its exchanges and trees; the answer is an <see cref="AaeStatus"/>.</summary>
public sealed record GetAaeStatus
{
    public static readonly GetAaeStatus Instance = new();
}

/// <summary>The last exchange of each pair this node started, and the trees of its vnodes.</summary>
public sealed record AaeStatus(string Node, IReadOnlyList<AaeExchangeInfo> Exchanges, IReadOnlyList<AaeTreeInfo> Trees);

/// <summary>
/// The last exchange between this node's vnode <see cref="Partition"/> and <see cref="PeerPartition"/>
/// on <see cref="PeerNode"/> over preference list <see cref="Pref"/> (n_val <see cref="N"/>): when it
/// ended (Unix ms), the keys it repaired, all keys repaired by that pair since the node started,
/// and how it ended.
/// </summary>
public sealed record AaeExchangeInfo(int Partition, string PeerNode, int PeerPartition, int Pref, int N, long EndedMs, long KeysRepaired, long TotalRepaired, string Outcome);

/// <summary>A vnode's trees: when the build they came from started (Unix ms; 0: none yet), keys in them, and whether a build runs now.</summary>
public sealed record AaeTreeInfo(int Partition, long BuiltMs, long Keys, bool Building);

/// <summary>To any node's admin actor: every member's <see cref="AaeStatus"/>.</summary>
public sealed record GetClusterAae
{
    public static readonly GetClusterAae Instance = new();
}

/// <summary>Every member's anti-entropy status (or why it could not be had).</summary>
public sealed record ClusterAae(IReadOnlyList<NodeAae> Nodes);

public sealed record NodeAae(string Node, AaeStatus? Status, string? Error);

/// <summary>Vnode to the sync actor: may I build my trees (one build at a time per node)?</summary>
internal sealed record RequestBuildSlot(int Partition);

/// <summary>Sync actor to a vnode: build now.</summary>
internal sealed record BuildSlotGranted
{
    public static readonly BuildSlotGranted Instance = new();
}

/// <summary>Vnode to the sync actor: its build ended (built or failed); the slot is free.</summary>
internal sealed record BuildFinished(int Partition, long BuiltMs, long Keys, string? Error);

/// <summary>An exchange to the sync actor, as it ends.</summary>
internal sealed record ExchangeFinished(AaePair Pair, long KeysRepaired, string Outcome);

/// <summary>Two vnodes of one preference list: this node's <see cref="Partition"/> and <see cref="PeerPartition"/> on <see cref="PeerNode"/>.</summary>
internal sealed record AaePair(int Partition, string PeerNode, int PeerPartition, int Pref, int N);
