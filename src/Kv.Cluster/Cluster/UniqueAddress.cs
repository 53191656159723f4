using Kv.Cluster.Actor;

namespace Kv.Cluster.Cluster;

/// <summary>One incarnation of a node: its address plus the uid of that start.</summary>
public sealed record UniqueAddress(Address Address, ulong Uid) : IComparable<UniqueAddress>
{
    /// <inheritdoc />
    public int CompareTo(UniqueAddress? other)
    {
        if (other is null)
            return 1;
        int c = Address.CompareTo(other.Address);
        return c != 0 ? c : Uid.CompareTo(other.Uid);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Address}#{Uid}";
}
