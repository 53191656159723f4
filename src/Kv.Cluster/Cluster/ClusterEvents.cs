using Kv.Cluster.Actor;

namespace Kv.Cluster.Cluster;

/// <summary>Base of every cluster event published on the event stream.</summary>
public abstract record ClusterDomainEvent;

/// <summary>A member changed status.</summary>
public abstract record MemberEvent(Member Member) : ClusterDomainEvent;

public sealed record MemberJoined(Member Member) : MemberEvent(Member);
public sealed record MemberWeaklyUp(Member Member) : MemberEvent(Member);
public sealed record MemberUp(Member Member) : MemberEvent(Member);
public sealed record MemberLeft(Member Member) : MemberEvent(Member);
public sealed record MemberExited(Member Member) : MemberEvent(Member);
public sealed record MemberDowned(Member Member) : MemberEvent(Member);
public sealed record MemberRemoved(Member Member, MemberStatus PreviousStatus) : MemberEvent(Member);

/// <summary>A member's reachability changed (as the gossip's observers see it).</summary>
public abstract record ReachabilityEvent(Member Member) : ClusterDomainEvent;

public sealed record UnreachableMember(Member Member) : ReachabilityEvent(Member);
public sealed record ReachableMember(Member Member) : ReachabilityEvent(Member);

/// <summary>The leader changed (null: no leader).</summary>
public sealed record LeaderChanged(Address? Leader) : ClusterDomainEvent;

/// <summary>A snapshot of the membership.</summary>
public sealed record CurrentClusterState(
    IReadOnlyList<Member> Members,
    IReadOnlyList<Member> Unreachable,
    IReadOnlyList<Address> SeenBy,
    Address? Leader,
    bool Convergence)
{
    public static readonly CurrentClusterState Empty = new([], [], [], null, false);
}
