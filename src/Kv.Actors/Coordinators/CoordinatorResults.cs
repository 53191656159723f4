using Kv.Actors.Objects;

namespace Kv.Actors.Coordinators;

/// <summary>
/// A write succeeded: W replicas acknowledged, DW of them durably. Object is the stored object
/// when the request asked for the body (return_body), else null; Context is its causal context.
/// </summary>
public sealed record PutSucceeded(DvvSet<Sibling>? Object, int Acks, int DurableAcks, VersionVector Context);

/// <summary>A write was refused by the replicas (e.g. too many siblings); nothing was stored.</summary>
public sealed record PutRefused(string Reason)
{
    public override string ToString() => Reason;
}

/// <summary>A read found the object (possibly with siblings); its context goes back with the next write.</summary>
public sealed record GetSucceeded(DvvSet<Sibling> Object)
{
    /// <summary>Live values (tombstones left out).</summary>
    public IReadOnlyList<Sibling> Siblings => Object.Values.Where(v => !v.Deleted).ToList();

    /// <summary>The causal context to send with the next write of this key.</summary>
    public VersionVector Context => Object.Join();

    /// <summary>The encoding of <see cref="Object"/> when every replica that answered stored exactly these bytes: sent as they are.</summary>
    internal ReadOnlyMemory<byte>? Stored { get; init; }
}

/// <summary>A read found nothing (or only tombstones); the context covers the tombstones.</summary>
public sealed record NotFound(VersionVector Context);

/// <summary>Too few replicas answered in time: how many did, how many were needed.</summary>
public sealed record QuorumNotMet(string Operation, int Answered, int Needed, int DurableAnswered, int DurableNeeded, string? Detail)
{
    public override string ToString() =>
        $"{Operation}: {Answered} of {Needed} replicas answered" + (DurableNeeded > 0 ? $" ({DurableAnswered} of {DurableNeeded} durable)" : "") + (Detail is null ? "" : $"; {Detail}");
}

/// <summary>Stale replicas a read repaired (published on the event stream, counted in stats).</summary>
public sealed record ReadRepaired(byte[] Namespace, byte[] Key, int Replicas);
