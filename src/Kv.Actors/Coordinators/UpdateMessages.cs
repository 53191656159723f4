using Kv.Actors.Crdt;

namespace Kv.Actors.Coordinators;

/// <summary>
/// Update the CRDT value under (namespace, key) by <paramref name="Op"/> (the namespace's datatype
/// must be the operation's). Answered with <see cref="UpdateSucceeded"/>, or RequestFailed /
/// QuorumNotMet as a put is.
/// </summary>
public sealed record KvUpdate(byte[] Namespace, byte[] Key, CrdtOp Op, RequestOptions Options);

/// <summary>
/// An update was applied by a coordinating vnode and is on W replicas (DW durably): the merged
/// state after it (<paramref name="ContentType"/> names its data type, <paramref name="State"/> is
/// its encoding) and the operation's number (a counter's new value; set members added or removed).
/// </summary>
public sealed record UpdateSucceeded(string ContentType, byte[] State, long Number, int Acks, int DurableAcks)
{
    /// <summary>The operation's result bytes: a popped list element (null when the list was empty, and for other operations).</summary>
    public byte[]? Result { get; init; }
}
