using Kv.Actors.Objects;

namespace Kv.Actors.Vnode;

/// <summary>Read one object.</summary>
public sealed record VnodeGet(byte[] Namespace, byte[] Key, long RequestId);

/// <summary>The coordinating vnode's write: stamp the client's value with a new dot from this vnode and store it.</summary>
public sealed record VnodeCoordinatePut(byte[] Namespace, byte[] Key, VersionVector Context, Sibling Value, long RequestId, int MaxSiblings = 100);

/// <summary>Merge an object from another replica (replication, read repair, handoff) and store it.</summary>
public sealed record VnodeApply(byte[] Namespace, byte[] Key, DvvSet<Sibling> Object, bool Durable, long RequestId)
{
    /// <summary>Request id of fire-and-forget applies (read repair): no reply is sent.</summary>
    public const long NoReply = -1;
}

/// <summary>Answer to <see cref="VnodeGet"/>; Object is null for not found; Error is set when the read failed.</summary>
public sealed record VnodeGetReply(int Partition, long RequestId, DvvSet<Sibling>? Object, string? Error);

/// <summary>Answer to a put or apply: the stored object, and whether it was fsynced.</summary>
public sealed record VnodePutReply(int Partition, long RequestId, DvvSet<Sibling>? Object, bool Durable, string? Error);
