namespace Kv.Actors.Vnode;

/// <summary>
/// Objects of one partition on their way to its next owner, in storage-key order. The receiving
/// node's <see cref="VnodeManager"/> hands the batch to its vnode, which merges each object with
/// what it holds (DVV sync, so a batch sent twice changes nothing) and stores them durably.
/// Seq -1 marks a single forwarded write, which is not acknowledged.
/// </summary>
public sealed record HandoffBatch(int Partition, long Seq, IReadOnlyList<(byte[] Key, byte[] Object)> Items, string From)
{
    public const long Forwarded = -1;
}

/// <summary>The receiver stored a batch (Error null) or could not take it (wrong ring view, storage error).</summary>
public sealed record HandoffBatchAck(int Partition, long Seq, string? Error);

/// <summary>Where one partition's transfer stands (per partition: bytes, keys, state).</summary>
public sealed record HandoffProgress(int Partition, string Target, HandoffState State, long Keys, long Bytes, string? LastError);

public enum HandoffState
{
    Waiting,
    Sending,
    Sweeping,
    Done,
    Failed,
}

/// <summary>Ask a node's <see cref="VnodeManager"/> for its transfers; the answer is a list of <see cref="HandoffProgress"/>.</summary>
public sealed record GetHandoffStatus
{
    public static readonly GetHandoffStatus Instance = new();
}

/// <summary>
/// The answer to <see cref="GetHandoffStatus"/>: the latest transfer of each partition, the
/// partitions with a vnode here, and those of them that have handed their data off (deleted it)
/// and only forward.
/// </summary>
public sealed record HandoffStatus(IReadOnlyList<HandoffProgress> Transfers, IReadOnlyList<int> Vnodes, IReadOnlyList<int> Retired);

/// <summary>HandoffSender to its vnode: every key written since the last call (the vnode clears its set).</summary>
internal sealed record TakeDirty
{
    public static readonly TakeDirty Instance = new();
}

/// <summary>Vnode to its HandoffSender: the keys written since the last <see cref="TakeDirty"/>.</summary>
internal sealed record DirtyKeys(IReadOnlyList<byte[]> Keys);

/// <summary>HandoffSender to its vnode: everything (or, for a sweep, every dirty key) is on the target.</summary>
internal sealed record HandoffFinished(string Target, bool SweepOnly);

/// <summary>Vnode to the manager: its data is handed off and deleted; it forwards for a grace period.</summary>
internal sealed record VnodeRetired(int Partition);

/// <summary>HandoffSender to the manager: may I start sending (at most Concurrency transfers at once)?</summary>
internal sealed record RequestHandoffSlot(int Partition);

/// <summary>Manager to a HandoffSender: go.</summary>
internal sealed record HandoffSlotGranted
{
    public static readonly HandoffSlotGranted Instance = new();
}

/// <summary>HandoffSender to the manager: done with the slot.</summary>
internal sealed record ReleaseHandoffSlot(int Partition);

/// <summary>
/// To the vnode of <see cref="Partition"/> from an unsynced vnode of partition <see cref="For"/> on
/// <see cref="Node"/> (one that took its partition over without the previous owner's data): send
/// it the keys you hold whose preference list includes <see cref="For"/>, then <see cref="FillDone"/>.
/// </summary>
public sealed record FillRequest(int Partition, int For, string Node)
{
    /// <summary>Only keys in these ranges (storage keys, both ends inclusive): what a damaged table lost. Null: all.</summary>
    public IReadOnlyList<Kv.Storage.KeyRange>? Ranges { get; init; }
}

/// <summary>To the unsynced vnode of <see cref="For"/>: the vnode of <see cref="Partition"/> sent it everything it had for it (acknowledged).</summary>
public sealed record FillDone(int Partition, int For);

/// <summary>From a fill sender to its vnode: every batch for <see cref="For"/> on <see cref="Node"/> was acknowledged.</summary>
internal sealed record FillFinished(int For, string Node);
