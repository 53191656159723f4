namespace Kv.Actors.Ring;

/// <summary>A node's ring, pushed to other nodes' ring managers (newer replaces older).</summary>
public sealed record RingGossip(Ring Ring);

/// <summary>To the claimant (leader): a partition's data is on its next owner; switch the owner.</summary>
public sealed record TransferComplete(int Partition, string From, string To);

/// <summary>Take <see cref="Node"/> out of the ring: its partitions are handed off, then it may leave the cluster.</summary>
public sealed record LeaveRing(string Node);

/// <summary>
/// To the claimant, from <see cref="Node"/> itself: the ring still marks it leaving, but this
/// incarnation never asked to leave (it left, or was leaving, and was started again at the same
/// address); claim it again.
/// </summary>
public sealed record RejoinRing(string Node);

/// <summary>Ask the local ring manager for its ring: the answer is a <see cref="CurrentRing"/>.</summary>
public sealed record GetRing
{
    public static readonly GetRing Instance = new();
}

/// <summary>The ring a node holds (null before the first claim).</summary>
public sealed record CurrentRing(Ring? Ring)
{
    /// <summary>Local only: this node started without a ring and the cluster's ring shows it had been a member (its data was lost or wiped).</summary>
    public bool DataLost { get; init; }

    /// <summary>
    /// From a node's admin endpoint (to clients): the namespaces whose operations are linearizable
    /// on that node (consistent = on); "*" when a namespace not configured is one too (the default
    /// namespace is consistent). A client never sends a write there a second time after it may
    /// have been delivered: two attempts could both take effect, the second after the first was
    /// answered.
    /// </summary>
    public IReadOnlyList<string> ConsistentNamespaces { get; init; } = [];
}

/// <summary>Published on the node's event stream and told to subscribers when the node adopts a new ring.</summary>
public sealed record RingChanged(Ring Ring)
{
    /// <summary>This node started without a ring and the cluster's ring shows it had been a member (its data was lost or wiped).</summary>
    public bool DataLost { get; init; }
}

/// <summary>
/// Published on the node's event stream when the node starts serving requests: it is an Up member
/// of the cluster and its ring is the cluster's (it has had a ring from another Up member since it
/// became Up, or it is the only one). Until then its coordinators would work from the ring it
/// stored before a restart: a node started again but not yet (re)admitted, or admitted a moment
/// before the ring reached it, would take writes on replicas the cluster no longer reads.
/// </summary>
public sealed record ServingChanged(bool Serving);

/// <summary>Ask the local ring manager whether the node serves: the answer is a <see cref="ServingChanged"/>.</summary>
public sealed record GetServing
{
    public static readonly GetServing Instance = new();
}
