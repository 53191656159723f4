using Kv.Actors.Objects;

namespace Kv.Actors.Vnode;

/// <summary>Read one object.</summary>
public sealed record VnodeGet(byte[] Namespace, byte[] Key, long RequestId)
{
    /// <summary>
    /// Exists: answer with the object's clock and its values' metadata (deleted, times, expiry) but
    /// not their bytes (see <see cref="Expiry"/>). Such an answer is never used for read repair.
    /// </summary>
    public bool Head { get; init; }
}

/// <summary>
/// The coordinating vnode's write: stamp the client's value with a new dot from this vnode and
/// store it. Above WarnSiblings a warning is logged; above MaxSiblings the write is refused.
/// With LastWriteWins the new value replaces whatever is stored.
/// </summary>
public sealed record VnodeCoordinatePut(byte[] Namespace, byte[] Key, VersionVector Context, Sibling Value, long RequestId,
    int MaxSiblings = 100, int WarnSiblings = 25, bool LastWriteWins = false);

/// <summary>Merge an object from another replica (replication, read repair) and store it.</summary>
public sealed record VnodeApply(byte[] Namespace, byte[] Key, DvvSet<Sibling> Object, bool Durable, long RequestId)
{
    /// <summary>Request id of fire-and-forget applies (read repair): no reply is sent.</summary>
    public const long NoReply = -1;

    /// <summary>
    /// <see cref="Object"/>'s encoding when it is at hand (the coordinating vnode's, or the bytes it
    /// was read from off the wire): sent and stored as it is instead of encoded again.
    /// </summary>
    internal ReadOnlyMemory<byte>? Encoded { get; init; }
}

/// <summary>
/// Remove a key whose object is only tombstones, but only if the stored object is still exactly
/// <see cref="Object"/> (a newer write keeps it). Sent when all N primaries hold the tombstone.
/// </summary>
public sealed record VnodeReap(byte[] Namespace, byte[] Key, DvvSet<Sibling> Object);

/// <summary>Answer to <see cref="VnodeGet"/>; Object is null for not found; Error is set when the read failed.</summary>
public sealed record VnodeGetReply(int Partition, long RequestId, DvvSet<Sibling>? Object, string? Error)
{
    private DvvSet<Sibling>? _object = Object;

    /// <summary>The object read; when the reply carries <see cref="Stored"/>, decoded from it on first use.</summary>
    public DvvSet<Sibling>? Object
    {
        get => _object ??= Stored is { } stored ? KvObjectCodec.Decode(stored.Span) : null;
        init => _object = value;
    }

    /// <summary>
    /// The object's stored encoding as the vnode read it (checked with <see cref="KvObjectCodec.Validate"/>
    /// by the vnode, and again by the deserializer when it crossed the wire): sent as it is, compared
    /// byte for byte by the coordinator, and decoded only when the object is needed. Not a copy: the
    /// engine's own bytes (see <see cref="Kv.Storage.LsmEngine.TryGet"/>) or the parser's.
    /// </summary>
    internal ReadOnlyMemory<byte>? Stored { get; init; }

    /// <summary>Whether the replica holds the key (without decoding the object).</summary>
    public bool Found => _object is not null || Stored is not null;

    /// <summary>
    /// The vnode took its partition over without the previous owner's data and has not filled it
    /// yet: its not-found says nothing (a value it has still counts).
    /// </summary>
    public bool Unsynced { get; init; }
}

/// <summary>
/// Answer to a put (with the stored object, which the coordinator replicates) or an apply (no object:
/// the coordinator already has it, and a replica's 1 KB echo was serialised for nothing), and whether
/// it was fsynced; Error is set when it failed.
/// </summary>
public sealed record VnodePutReply(int Partition, long RequestId, DvvSet<Sibling>? Object, bool Durable, string? Error)
{
    /// <summary><see cref="Object"/>'s encoding, as the vnode stores it (passed on to the replicas).</summary>
    internal ReadOnlyMemory<byte>? Encoded { get; init; }
}

/// <summary>Published when a vnode's read hit damaged data (the read got an error, never data).</summary>
public sealed record CorruptionFound(int Partition, string File, string Detail);

/// <summary>Published when a vnode rewrote a damaged table from its readable blocks.</summary>
public sealed record TableRewritten(int Partition, string File, long EntriesKept, int BadBlocks, int LostRanges);
