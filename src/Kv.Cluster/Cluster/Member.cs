using Kv.Cluster.Actor;

namespace Kv.Cluster.Cluster;

/// <summary>A cluster member: incarnation, status, roles, and when it became Up (for keep-oldest).</summary>
public sealed record Member(UniqueAddress UniqueAddress, MemberStatus Status, IReadOnlyList<string> Roles, int UpNumber)
{
    /// <summary>The member's address.</summary>
    public Address Address => UniqueAddress.Address;

    /// <summary>True when the member has the role.</summary>
    public bool HasRole(string role) => Roles.Contains(role);

    /// <summary>Older = lower up-number (then address), as Akka orders for keep-oldest.</summary>
    public bool IsOlderThan(Member other) =>
        UpNumber != other.UpNumber ? UpNumber < other.UpNumber : Address.CompareTo(other.Address) < 0;

    /// <inheritdoc />
    public override string ToString() => $"{Address} {Status}";

    /// <inheritdoc />
    public bool Equals(Member? other) =>
        other is not null && UniqueAddress.Equals(other.UniqueAddress) && Status == other.Status && UpNumber == other.UpNumber;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(UniqueAddress, Status, UpNumber);
}
