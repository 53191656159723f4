using Kv.Actors.Vnode;

namespace Kv.Actors.Admin;

/// <summary>Asks a node's admin actor (/user/kv-admin) for the cluster as it sees it.</summary>
public sealed record GetClusterStatus
{
    public static readonly GetClusterStatus Instance = new();
}

/// <summary>One member: its address, status, whether the answering node can reach it, its roles.</summary>
public sealed record MemberInfo(string Address, string Status, bool Reachable, IReadOnlyList<string> Roles);

/// <summary>The answer to <see cref="GetClusterStatus"/>: members, leader, convergence and the ring (null before the first claim).</summary>
public sealed record ClusterStatus(string Self, string? Leader, bool Convergence, IReadOnlyList<MemberInfo> Members, Ring.Ring? Ring, int DefaultNVal)
{
    /// <summary>Whether <see cref="Self"/> (the node asked) coordinates requests yet (see <see cref="Ring.ServingChanged"/>).</summary>
    public bool Serving { get; init; }
}

/// <summary>Asks for the handoff progress of every member.</summary>
public sealed record GetTransfers
{
    public static readonly GetTransfers Instance = new();
}

/// <summary>One node's vnodes and transfers, or why it did not answer.</summary>
public sealed record NodeTransfers(string Node, HandoffStatus? Status, string? Error);

/// <summary>The answer to <see cref="GetTransfers"/>.</summary>
public sealed record ClusterTransfers(IReadOnlyList<NodeTransfers> Nodes);

/// <summary>Asks <paramref name="Node"/> (an address, or host:port) to hand off its partitions and leave the cluster.</summary>
public sealed record LeaveNode(string Node);

/// <summary>Marks <paramref name="Node"/> (an address, or host:port) down: its partitions are reassigned at once.</summary>
public sealed record DownNode(string Node);

/// <summary>The answer to <see cref="LeaveNode"/> and <see cref="DownNode"/>.</summary>
public sealed record AdminReply(bool Ok, string Message);

/// <summary>
/// Chaos testing (bench/Kv.Chaos): the receiving node drops all traffic, both ways, with the nodes
/// in <paramref name="Blocked"/> (cluster addresses) and lets through traffic with every node not
/// named; an empty list heals. Clients are never blocked. Accepted only when the node runs with
/// kv.chaos.enabled = on; otherwise refused with an <see cref="AdminReply"/> whose Ok is false.
/// </summary>
public sealed record ChaosSetFaults(IReadOnlyList<string> Blocked);
