namespace Kv.Actors.Ring;

/// <summary>One replica of a key: a partition and the node that owns (or stands in for) it.</summary>
public sealed record Replica(int Partition, string Node, bool Fallback);

/// <summary>
/// A versioned ownership map of Q partitions. The preference list of a key is the N partitions
/// clockwise from the key's partition with their owners (Riak's rule); with fewer nodes than N,
/// some replicas share a node. <see cref="Pending"/> holds the owners the last claim chose: a
/// partition whose pending owner differs from its owner is being handed off, and its owner
/// changes only when the transfer completes (<see cref="CompleteTransfer"/>). <see cref="Lost"/>
/// lists the partitions whose owner took them over without the previous owner's data.
/// </summary>
public sealed class Ring : IEquatable<Ring>
{
    public Ring(long version, IReadOnlyList<string> owners, IReadOnlyList<string>? pending = null, IEnumerable<string>? leaving = null, IEnumerable<int>? lost = null)
    {
        if (owners.Count == 0 || (owners.Count & (owners.Count - 1)) != 0)
            throw new ArgumentException("a ring has a power-of-two number of partitions", nameof(owners));
        if (pending is not null && pending.Count != owners.Count)
            throw new ArgumentException("pending owners must cover every partition", nameof(pending));
        if (owners.Any(string.IsNullOrEmpty) || (pending?.Any(string.IsNullOrEmpty) ?? false))
            throw new ArgumentException("every partition needs an owner", nameof(owners));
        Version = version;
        Owners = owners.ToArray();
        Pending = pending?.ToArray() ?? Owners;
        Leaving = (leaving ?? []).Order(StringComparer.Ordinal).Distinct().ToArray();
        Lost = (lost ?? []).Order().Distinct().ToArray();
        if (Lost.Any(p => p < 0 || p >= owners.Count))
            throw new ArgumentException("a lost partition is outside the ring", nameof(lost));
    }

    public long Version { get; }

    /// <summary>Current owner of each partition: the vnode that serves it.</summary>
    public IReadOnlyList<string> Owners { get; }

    /// <summary>Owner of each partition once pending transfers are done.</summary>
    public IReadOnlyList<string> Pending { get; }

    /// <summary>
    /// Nodes asked to leave the ring: they keep serving until their partitions are handed off, and
    /// are not claimed again until they have left the cluster.
    /// </summary>
    public IReadOnlyList<string> Leaving { get; }

    /// <summary>
    /// Partitions whose current owner took them over when the previous owner was gone from the
    /// cluster (nothing was handed off): a new, empty vnode there must fill itself from the other
    /// replicas before its not-founds mean anything. A completed handoff takes a partition off.
    /// </summary>
    public IReadOnlyList<int> Lost { get; }

    public int Size => Owners.Count;

    /// <summary>True when no partition is waiting for a transfer.</summary>
    public bool Settled => Owners.SequenceEqual(Pending, StringComparer.Ordinal);

    /// <summary>Nodes in the claim (pending owners).</summary>
    public IReadOnlyList<string> Members => Pending.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Partitions whose owner will change: (partition, from, to).</summary>
    public IEnumerable<(int Partition, string From, string To)> Transfers =>
        Enumerable.Range(0, Size).Where(p => Owners[p] != Pending[p]).Select(p => (p, Owners[p], Pending[p]));

    /// <summary>A first ring for <paramref name="nodes"/>.</summary>
    public static Ring Create(IReadOnlyList<string> nodes, int q = 64, int targetN = 4) => new(1, Claim.Compute(null, nodes, q, targetN));

    /// <summary>The next ring after a membership change (few moves from this one), applied at once (no handoff).</summary>
    public Ring Next(IReadOnlyList<string> nodes, int targetN = 4) => new(Version + 1, Claim.Compute(Owners, nodes, Size, targetN));

    /// <summary>
    /// The ring for a new claim over <paramref name="nodes"/>: pending owners are recomputed from the
    /// current pending ones (few moves); partitions whose owner is gone from the cluster
    /// (not in <paramref name="alive"/>) switch at once, since nothing is left to hand off.
    /// </summary>
    public Ring Reclaim(IReadOnlyList<string> nodes, IReadOnlySet<string> alive, IEnumerable<string> leaving, int targetN)
    {
        var pending = Claim.Compute(Pending, nodes, Size, targetN);
        var owners = Owners.Select((o, p) => alive.Contains(o) ? o : pending[p]).ToArray();
        var lost = Lost.Where(p => owners[p] == Owners[p]).Concat(Enumerable.Range(0, Size).Where(p => owners[p] != Owners[p]));
        return new Ring(Version + 1, owners, pending, leaving.Where(alive.Contains), lost);
    }

    /// <summary>The ring after partition <paramref name="partition"/> moved from <paramref name="from"/> to <paramref name="to"/>; null if that transfer is not pending.</summary>
    public Ring? CompleteTransfer(int partition, string from, string to)
    {
        if (partition < 0 || partition >= Size || Owners[partition] != from || Pending[partition] != to)
            return null;
        var owners = Owners.ToArray();
        owners[partition] = to;
        // A node that handed everything off stays in Leaving (so it is not claimed again while it
        // is still in the cluster) until the claimant sees it gone from the cluster.
        return new Ring(Version + 1, owners, Pending, Leaving, Lost.Where(p => p != partition));
    }

    /// <summary>The ring with <paramref name="node"/> marked as leaving (claim recomputed by the leader).</summary>
    public Ring WithLeaving(string node) => new(Version + 1, Owners, Pending, Leaving.Append(node), Lost);

    /// <summary>The ring with <paramref name="node"/> no longer marked as leaving (it may be claimed again).</summary>
    public Ring WithoutLeaving(string node) => new(Version + 1, Owners, Pending, Leaving.Where(n => n != node), Lost);

    /// <summary>
    /// Which of two rings wins when they differ: the higher version, and at the same version (two
    /// leaders in a row) a fixed order of their contents, so every node settles on the same one.
    /// </summary>
    public bool Supersedes(Ring other) =>
        Version != other.Version ? Version > other.Version : string.CompareOrdinal(Fingerprint, other.Fingerprint) > 0;

    private string? _fingerprint;

    private string Fingerprint => _fingerprint ??= string.Join('\n', Owners) + "|" + string.Join('\n', Pending) + "|" + string.Join('\n', Leaving) + "|" + string.Join(',', Lost);

    public bool Equals(Ring? other) => other is not null && Version == other.Version && Fingerprint == other.Fingerprint;

    public override bool Equals(object? obj) => Equals(obj as Ring);

    public override int GetHashCode() => HashCode.Combine(Version, Size);

    public override string ToString() => $"ring v{Version} ({Size} partitions, {Members.Count} nodes, {Transfers.Count()} transfers pending)";

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
