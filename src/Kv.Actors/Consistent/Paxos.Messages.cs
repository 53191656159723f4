using Kv.Actors.Coordinators;

namespace Kv.Actors.Consistent;

/// <summary>
/// Compare-and-swap (client → router) in a namespace with consistent = on: set the key to
/// <paramref name="NewValue"/> if it holds <paramref name="Expected"/> (null: if it is absent).
/// Answered with <see cref="CasReply"/>, or RequestFailed (Unavailable: no majority of the key's
/// primaries reachable; Indeterminate: it may or may not have been applied).
/// </summary>
public sealed record KvCas(byte[] Namespace, byte[] Key, byte[]? Expected, byte[] NewValue, RequestOptions Options);

/// <summary>The outcome of a <see cref="KvCas"/>: the value after it (the new value on success; on a mismatch the current value, null if absent).</summary>
public sealed record CasReply(bool Succeeded, byte[]? Current);

/// <summary>What a linearizable operation on a key does.</summary>
public enum ConsistentOpKind
{
    Get = 0,
    Put = 1,
    Delete = 2,
    Cas = 3,
    Increment = 4,
}

/// <summary>
/// One operation of a consistent namespace: <see cref="Value"/> and <see cref="ContentType"/> for a
/// put and a CAS's new value, <see cref="Expected"/> (null: absent) for a CAS, <see cref="By"/> for an increment.
/// </summary>
public sealed record ConsistentOp(ConsistentOpKind Kind, byte[] Value, string ContentType, byte[]? Expected, long By)
{
    public static readonly ConsistentOp Get = new(ConsistentOpKind.Get, [], "", null, 0);

    public static readonly ConsistentOp Delete = new(ConsistentOpKind.Delete, [], "", null, 0);

    public bool ReadOnly => Kind == ConsistentOpKind.Get;
}

/// <summary>
/// A consistent operation on its way to the proposer of its partition (the shard region routes it
/// by <see cref="Partition"/>): the key, its N primaries from the router's ring (the only
/// acceptors), the operation, the deadline. The reply goes to the sender (the client).
/// </summary>
public sealed record ConsistentRequest(int Partition, byte[] Namespace, byte[] Key, IReadOnlyList<(int Partition, string Node)> Primaries, ConsistentOp Op, long TimeoutMs);

/// <summary>Phase 1a: promise no ballot below <paramref name="Ballot"/> for (namespace, key), and tell what you accepted and know committed.</summary>
public sealed record PaxosPrepare(byte[] Namespace, byte[] Key, Ballot Ballot, long RequestId);

/// <summary>
/// Phase 1b (stored durably before it is sent): <paramref name="Ok"/> when the ballot was promised;
/// otherwise <paramref name="Promised"/> is the higher ballot promised before. <paramref name="Error"/>:
/// the vnode could not take part (storage error, partition not served here).
/// </summary>
public sealed record PaxosPromise(int Partition, long RequestId, bool Ok, Ballot Promised, Ballot AcceptedBallot, PaxosValue? Accepted,
    Ballot CommittedBallot, PaxosValue? Committed, string? Error);

/// <summary>
/// Phase 2a: accept <paramref name="Value"/> at <paramref name="Ballot"/> unless a higher ballot was
/// promised; and, on accepting it, promise <see cref="Next"/> (the same proposer's next ballot), so
/// that proposer's next operation on the key can skip phase 1 (one round trip instead of two).
/// </summary>
public sealed record PaxosPropose(byte[] Namespace, byte[] Key, Ballot Ballot, PaxosValue Value, long RequestId)
{
    /// <summary>The ballot promised along with the accept (zero: none).</summary>
    public Ballot Next { get; init; }

    /// <summary>
    /// A commit carried along (zero: none): the value chosen at this ballot, the key's previous round,
    /// is the one the acceptor accepted at it, if it did; it is marked committed before the new accept.
    /// </summary>
    public Ballot Commit { get; init; }
}

/// <summary>Phase 2b (stored durably before it is sent): accepted, or refused because <paramref name="Promised"/> is higher.</summary>
public sealed record PaxosAccepted(int Partition, long RequestId, bool Ok, Ballot Promised, string? Error);

/// <summary>Phase 3: <paramref name="Value"/> was chosen at <paramref name="Ballot"/> (a majority accepted it); not answered.</summary>
public sealed record PaxosCommit(byte[] Namespace, byte[] Key, Ballot Ballot, PaxosValue Value);

/// <summary>Asks a proposer (a shard entity) to finish what it runs and stop (sharding's hand-off stop message).</summary>
public sealed class StopProposer
{
    public static readonly StopProposer Instance = new();

    private StopProposer()
    {
    }
}
