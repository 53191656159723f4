namespace Kv.Actors.Ring;

/// <summary>One replica of a key: a partition and the node that owns (or stands in for) it.</summary>
public sealed record Replica(int Partition, string Node, bool Fallback);

/// <summary>
/// A versioned ownership map of Q partitions. The preference list of a key is the N partitions
/// clockwise from the key's partition with their owners (Riak's rule); with fewer nodes than N,
/// some replicas share a node.
/// </summary>
public sealed class Ring
{
    public Ring(long version, IReadOnlyList<string> owners)
    {
        if (owners.Count == 0 || (owners.Count & (owners.Count - 1)) != 0)
            throw new ArgumentException("a ring has a power-of-two number of partitions", nameof(owners));
        Version = version;
        Owners = owners;
    }

    public long Version { get; }

    public IReadOnlyList<string> Owners { get; }

    public int Size => Owners.Count;

    /// <summary>A first ring for <paramref name="nodes"/>.</summary>
    public static Ring Create(IReadOnlyList<string> nodes, int q = 64, int targetN = 4) => new(1, Claim.Compute(null, nodes, q, targetN));

    /// <summary>The next ring after a membership change (few moves from this one).</summary>
    public Ring Next(IReadOnlyList<string> nodes, int targetN = 4) => new(Version + 1, Claim.Compute(Owners, nodes, Size, targetN));

    /// <summary>The N primary replicas of (namespace, key).</summary>
    public IReadOnlyList<Replica> PreferenceList(ReadOnlySpan<byte> ns, ReadOnlySpan<byte> key, int n) =>
        PreferenceList(KeyHash.PartitionOf(ns, key, Size), n);

    /// <summary>The N primaries starting at <paramref name="partition"/>, clockwise.</summary>
    public IReadOnlyList<Replica> PreferenceList(int partition, int n)
    {
        if (n < 1 || n > Size)
            throw new ArgumentOutOfRangeException(nameof(n), n, $"n_val must be 1..{Size}");
        var list = new Replica[n];
        for (int i = 0; i < n; i++)
        {
            int p = (partition + i) % Size;
            list[i] = new Replica(p, Owners[p], false);
        }
        return list;
    }

    /// <summary>
    /// Sloppy quorum: primaries on unreachable nodes are replaced by the next nodes clockwise (after
    /// the primaries) that are reachable and not already in the list; they keep hints to hand back.
    /// </summary>
    public IReadOnlyList<Replica> WithFallbacks(IReadOnlyList<Replica> primaries, IReadOnlySet<string> unreachable)
    {
        var result = new List<Replica>(primaries.Count);
        var used = primaries.Where(r => !unreachable.Contains(r.Node)).Select(r => r.Node).ToHashSet(StringComparer.Ordinal);
        int next = (primaries[^1].Partition + 1) % Size;
        foreach (var primary in primaries)
        {
            if (!unreachable.Contains(primary.Node))
            {
                result.Add(primary);
                continue;
            }
            for (int step = 0; step < Size; step++, next = (next + 1) % Size)
            {
                var owner = Owners[next];
                if (!unreachable.Contains(owner) && used.Add(owner))
                {
                    result.Add(new Replica(primary.Partition, owner, Fallback: true));
                    next = (next + 1) % Size;
                    break;
                }
            }
        }
        return result;
    }

    /// <summary>True when some preference list of length <paramref name="n"/> would put two replicas on one node.</summary>
    public bool ReplicasShareNodes(int n) => !Claim.DistinctWindows(Owners, n);
}
