namespace Kv.Actors.Ring;

/// <summary>One replica of a key: a partition and the node that owns (or stands in for) it.</summary>
public sealed record Replica(int Partition, string Node, bool Fallback);

/// <summary>
/// When a ring entry (a partition's owner, its pending owner, a node's leaving mark) was last
/// changed: the claimant's counter (its ring's version + 1) and the claimant's name, which breaks
/// ties between two claimants that made the same version (a new leader with a stale ring, two
/// sides of a partition).
/// </summary>
public readonly record struct Stamp(long Counter, string Claimant) : IComparable<Stamp>
{
    public int CompareTo(Stamp other) =>
        Counter != other.Counter ? Counter.CompareTo(other.Counter) : string.CompareOrdinal(Claimant, other.Claimant);

    public override string ToString() => $"{Counter}@{Claimant}";
}

/// <summary>
/// A versioned ownership map of Q partitions. The preference list of a key is the N partitions
/// clockwise from the key's partition with their owners (Riak's rule); with fewer nodes than N,
/// some replicas share a node. <see cref="Pending"/> holds the owners the last claim chose: a
/// partition whose pending owner differs from its owner is being handed off, and its owner
/// changes only when the transfer completes (<see cref="CompleteTransfer"/>). <see cref="Lost"/>
/// lists the partitions whose owner took them over without the previous owner's data (a flag of
/// the owner entry: it travels, and merges, with the owner).
/// <para>
/// Rings merge (<see cref="Merge"/>) instead of replacing each other by version: every entry (each
/// partition's owner, each pending owner, each leaving mark) carries the <see cref="Stamp"/> of its
/// last change, and the merge keeps the entry with the higher stamp. So the merge is commutative,
/// associative and idempotent (every node merging the same rings gets the same ring), and two
/// claims made concurrently on the same version both survive unless they changed the same entry
/// (then the higher stamp wins, the same everywhere). <see cref="Clock"/> holds, per claimant, the
/// highest counter it stamped; <see cref="Seen"/> holds, per node, the clock of the ring it last
/// adopted, so a change is known to have reached every member when every member's seen clock
/// covers its stamp (Riak's ring "seen" list; see <see cref="OwnerSeenByAll"/>).
/// </para>
/// </summary>
public sealed class Ring : IEquatable<Ring>
{
    private const string Legacy = "";
    private readonly Stamp[] _ownerStamps;
    private readonly Stamp[] _pendingStamps;
    private readonly bool[] _lost;
    private readonly SortedDictionary<string, (bool Leaving, Stamp Stamp)> _leaveMarks;
    private readonly SortedDictionary<string, long> _clock;
    private readonly SortedDictionary<string, SortedDictionary<string, long>> _seen;

    /// <summary>A ring whose every entry was made at <paramref name="version"/> (by no named claimant: rings stored before stamps).</summary>
    public Ring(long version, IReadOnlyList<string> owners, IReadOnlyList<string>? pending = null, IEnumerable<string>? leaving = null, IEnumerable<int>? lost = null)
        : this(owners, pending ?? owners,
            Enumerable.Repeat(new Stamp(version, Legacy), owners.Count).ToArray(),
            Enumerable.Repeat(new Stamp(version, Legacy), owners.Count).ToArray(),
            (leaving ?? []).Distinct().Select(n => (n, true, new Stamp(version, Legacy))),
            version > 0 ? [(Legacy, version)] : [],
            [],
            lost)
    {
    }

    /// <summary>A ring with every entry's stamp, the claimants' clock and the seen clocks (as stored or sent).</summary>
    public Ring(IReadOnlyList<string> owners, IReadOnlyList<string> pending, IReadOnlyList<Stamp> ownerStamps, IReadOnlyList<Stamp> pendingStamps,
        IEnumerable<(string Node, bool Leaving, Stamp Stamp)> leaveMarks, IEnumerable<(string Claimant, long Counter)> clock,
        IEnumerable<(string Node, IEnumerable<(string Claimant, long Counter)> Clock)> seen, IEnumerable<int>? lost = null)
    {
        if (owners.Count == 0 || (owners.Count & (owners.Count - 1)) != 0)
            throw new ArgumentException("a ring has a power-of-two number of partitions", nameof(owners));
        if (pending.Count != owners.Count || ownerStamps.Count != owners.Count || pendingStamps.Count != owners.Count)
            throw new ArgumentException("pending owners and stamps must cover every partition", nameof(pending));
        if (owners.Any(string.IsNullOrEmpty) || pending.Any(string.IsNullOrEmpty))
            throw new ArgumentException("every partition needs an owner", nameof(owners));
        if (ownerStamps.Concat(pendingStamps).Any(s => s.Counter < 0 || s.Claimant is null))
            throw new ArgumentException("a stamp has a negative counter", nameof(ownerStamps));
        Owners = owners.ToArray();
        Pending = pending.ToArray();
        _ownerStamps = ownerStamps.ToArray();
        _pendingStamps = pendingStamps.ToArray();
        _lost = new bool[owners.Count];
        foreach (int p in lost ?? [])
        {
            if (p < 0 || p >= owners.Count)
                throw new ArgumentException("a lost partition is outside the ring", nameof(lost));
            _lost[p] = true;
        }
        Lost = Enumerable.Range(0, owners.Count).Where(p => _lost[p]).ToArray();
        _leaveMarks = new(StringComparer.Ordinal);
        foreach (var (node, leaving, stamp) in leaveMarks)
        {
            if (string.IsNullOrEmpty(node) || stamp.Counter < 0 || stamp.Claimant is null || !_leaveMarks.TryAdd(node, (leaving, stamp)))
                throw new ArgumentException($"bad or repeated leaving mark for '{node}'", nameof(leaveMarks));
        }
        _clock = ToClock(clock);
        _seen = new(StringComparer.Ordinal);
        foreach (var (node, c) in seen)
        {
            if (string.IsNullOrEmpty(node) || !_seen.TryAdd(node, ToClock(c)))
                throw new ArgumentException($"bad or repeated seen entry for '{node}'", nameof(seen));
        }
        Leaving = _leaveMarks.Where(m => m.Value.Leaving).Select(m => m.Key).ToArray();
        Version = _clock.Count == 0 ? 0 : _clock.Values.Max();
    }

    private static SortedDictionary<string, long> ToClock(IEnumerable<(string Claimant, long Counter)> entries)
    {
        var clock = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var (claimant, counter) in entries)
        {
            if (claimant is null || counter < 0 || !clock.TryAdd(claimant, counter))
                throw new ArgumentException($"bad or repeated clock entry for '{claimant}'", nameof(entries));
        }
        return clock;
    }

    /// <summary>The highest counter any claimant stamped: grows with every change, and merged rings have the higher of the two.</summary>
    public long Version { get; }

    /// <summary>Current owner of each partition: the vnode that serves it.</summary>
    public IReadOnlyList<string> Owners { get; }

    /// <summary>Owner of each partition once pending transfers are done.</summary>
    public IReadOnlyList<string> Pending { get; }

    /// <summary>When each partition's owner was last changed.</summary>
    public IReadOnlyList<Stamp> OwnerStamps => _ownerStamps;

    /// <summary>When each partition's pending owner was last changed.</summary>
    public IReadOnlyList<Stamp> PendingStamps => _pendingStamps;

    /// <summary>Every leaving mark ever set or taken off, with its stamp (a mark taken off stays, as false, so a stale ring cannot bring it back).</summary>
    public IEnumerable<(string Node, bool Leaving, Stamp Stamp)> LeaveMarks => _leaveMarks.Select(m => (m.Key, m.Value.Leaving, m.Value.Stamp));

    /// <summary>Per claimant, the highest counter it stamped.</summary>
    public IEnumerable<(string Claimant, long Counter)> Clock => _clock.Select(c => (c.Key, c.Value));

    /// <summary>Per node, the clock of the ring it last adopted.</summary>
    public IEnumerable<(string Node, IEnumerable<(string Claimant, long Counter)> Clock)> Seen =>
        _seen.Select(s => (s.Key, s.Value.Select(c => (c.Key, c.Value))));

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

    /// <summary>A first ring for <paramref name="nodes"/>, made by <paramref name="claimant"/>.</summary>
    public static Ring Create(IReadOnlyList<string> nodes, int q = 64, int targetN = 4, string claimant = Legacy)
    {
        var owners = Claim.Compute(null, nodes, q, targetN);
        var stamp = new Stamp(1, claimant);
        return new Ring(owners, owners, Enumerable.Repeat(stamp, q).ToArray(), Enumerable.Repeat(stamp, q).ToArray(), [], [(claimant, 1)], []);
    }

    /// <summary>The next ring after a membership change (few moves from this one), applied at once (no handoff).</summary>
    public Ring Next(IReadOnlyList<string> nodes, int targetN = 4, string claimant = Legacy)
    {
        var owners = Claim.Compute(Owners, nodes, Size, targetN);
        return Changed(claimant, owners, owners, Leaving);
    }

    /// <summary>
    /// The ring for a new claim over <paramref name="nodes"/>: pending owners are recomputed from the
    /// current pending ones (few moves); partitions whose owner is gone from the cluster
    /// (not in <paramref name="alive"/>) switch at once, since nothing is left to hand off.
    /// </summary>
    public Ring Reclaim(IReadOnlyList<string> nodes, IReadOnlySet<string> alive, IEnumerable<string> leaving, int targetN, string claimant = Legacy)
    {
        var pending = Claim.Compute(Pending, nodes, Size, targetN);
        var owners = Owners.Select((o, p) => alive.Contains(o) ? o : pending[p]).ToArray();
        var lost = Enumerable.Range(0, Size).Where(p => owners[p] != Owners[p] || _lost[p]).ToList();
        return Changed(claimant, owners, pending, leaving.Where(alive.Contains), lost);
    }

    /// <summary>The ring after partition <paramref name="partition"/> moved from <paramref name="from"/> to <paramref name="to"/>; null if that transfer is not pending.</summary>
    public Ring? CompleteTransfer(int partition, string from, string to, string claimant = Legacy)
    {
        if (partition < 0 || partition >= Size || Owners[partition] != from || Pending[partition] != to)
            return null;
        var owners = Owners.ToArray();
        owners[partition] = to;
        // A node that handed everything off stays in Leaving (so it is not claimed again while it
        // is still in the cluster) until the claimant sees it gone from the cluster.
        return Changed(claimant, owners, Pending, Leaving, Lost.Where(p => p != partition).ToList());
    }

    /// <summary>The ring with <paramref name="node"/> marked as leaving (claim recomputed by the leader).</summary>
    public Ring WithLeaving(string node, string claimant = Legacy) => Changed(claimant, Owners, Pending, Leaving.Append(node));

    /// <summary>The ring with <paramref name="node"/> no longer marked as leaving (it may be claimed again).</summary>
    public Ring WithoutLeaving(string node, string claimant = Legacy) => Changed(claimant, Owners, Pending, Leaving.Where(n => n != node));

    /// <summary>
    /// The ring with these contents, made by <paramref name="claimant"/>: every entry that differs
    /// from this ring's gets the stamp (<see cref="Version"/> + 1, claimant), and the version moves
    /// to it even when nothing differs (as a new claim always did).
    /// </summary>
    private Ring Changed(string claimant, IReadOnlyList<string> owners, IReadOnlyList<string> pending, IEnumerable<string> leaving, IReadOnlyCollection<int>? lost = null)
    {
        var stamp = new Stamp(Version + 1, claimant);
        var lostNow = lost?.ToHashSet() ?? Lost.ToHashSet();
        var ownerStamps = _ownerStamps.Select((s, p) => owners[p] == Owners[p] && lostNow.Contains(p) == _lost[p] ? s : stamp).ToArray();
        var pendingStamps = _pendingStamps.Select((s, p) => pending[p] == Pending[p] ? s : stamp).ToArray();
        var leavingSet = leaving.ToHashSet(StringComparer.Ordinal);
        var marks = new SortedDictionary<string, (bool Leaving, Stamp Stamp)>(_leaveMarks, StringComparer.Ordinal);
        foreach (var node in leavingSet.Concat(_leaveMarks.Keys).Distinct().ToList())
        {
            bool now = leavingSet.Contains(node);
            if (!marks.TryGetValue(node, out var mark) || mark.Leaving != now)
                marks[node] = (now, stamp);
        }
        var clock = new SortedDictionary<string, long>(_clock, StringComparer.Ordinal) { [claimant] = stamp.Counter };
        return new Ring(owners, pending, ownerStamps, pendingStamps, marks.Select(m => (m.Key, m.Value.Leaving, m.Value.Stamp)),
            clock.Select(c => (c.Key, c.Value)), Seen, lostNow);
    }

    /// <summary>Whether <paramref name="node"/> has adopted any ring of this cluster (it has been a member).</summary>
    public bool HasAdopted(string node) => _seen.ContainsKey(node);

    /// <summary>This ring with <paramref name="node"/> recorded as having adopted it (its seen clock raised to this ring's clock).</summary>
    public Ring WithSeen(string node)
    {
        if (_seen.TryGetValue(node, out var seen) && _clock.All(c => seen.TryGetValue(c.Key, out long n) && n >= c.Value))
            return this;
        var merged = new SortedDictionary<string, long>(seen ?? new SortedDictionary<string, long>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (var (claimant, counter) in _clock)
            merged[claimant] = Math.Max(counter, merged.GetValueOrDefault(claimant));
        var all = new SortedDictionary<string, SortedDictionary<string, long>>(_seen, StringComparer.Ordinal) { [node] = merged };
        return new Ring(Owners, Pending, _ownerStamps, _pendingStamps, LeaveMarks, Clock, all.Select(s => (s.Key, s.Value.Select(c => (c.Key, c.Value)))), Lost);
    }

    /// <summary>Whether <paramref name="node"/> has adopted a ring holding the change stamped <paramref name="stamp"/> (or a later one of its claimant).</summary>
    public bool HasSeen(string node, Stamp stamp) =>
        _seen.TryGetValue(node, out var seen) && seen.TryGetValue(stamp.Claimant, out long counter) && counter >= stamp.Counter;

    /// <summary>
    /// Whether every member (every owner and pending owner) has adopted a ring with the current
    /// owner of <paramref name="partition"/>: after that no member routes its requests to the old
    /// owner from its own ring any more, and the old owner may delete its copy.
    /// </summary>
    public bool OwnerSeenByAll(int partition)
    {
        var stamp = _ownerStamps[partition];
        return Owners.Concat(Pending).Distinct(StringComparer.Ordinal).All(n => HasSeen(n, stamp));
    }

    /// <summary>
    /// The merge of two rings: per entry, the one with the higher stamp (equal stamps, which only a
    /// claimant that lost its own ring can make, are ordered by value); clocks and seen clocks take
    /// the higher counter per claimant. Commutative, associative and idempotent. Rings of different
    /// sizes do not merge: the one that <see cref="Supersedes"/> the other is returned.
    /// </summary>
    public static Ring Merge(Ring a, Ring b)
    {
        if (a.Size != b.Size)
            return a.Supersedes(b) ? a : b;
        if (a.Equals(b))
            return a;
        int q = a.Size;
        var owners = new string[q];
        var pending = new string[q];
        var ownerStamps = new Stamp[q];
        var pendingStamps = new Stamp[q];
        var lost = new List<int>();
        for (int p = 0; p < q; p++)
        {
            // The lost flag belongs to the owner entry: it comes from the side whose owner wins (both
            // sides, when the entries are the same change).
            var (ownerA, ownerB) = ((a.Owners[p], a._ownerStamps[p]), (b.Owners[p], b._ownerStamps[p]));
            (owners[p], ownerStamps[p]) = Higher(ownerA, ownerB);
            bool same = ownerA == ownerB;
            if (same ? a._lost[p] || b._lost[p] : (Higher(ownerA, ownerB) == ownerA ? a._lost[p] : b._lost[p]))
                lost.Add(p);
            (pending[p], pendingStamps[p]) = Higher((a.Pending[p], a._pendingStamps[p]), (b.Pending[p], b._pendingStamps[p]));
        }
        var marks = new SortedDictionary<string, (bool Leaving, Stamp Stamp)>(a._leaveMarks, StringComparer.Ordinal);
        foreach (var (node, mark) in b._leaveMarks)
        {
            if (!marks.TryGetValue(node, out var mine))
            {
                marks[node] = mark;
                continue;
            }
            int c = mark.Stamp.CompareTo(mine.Stamp);
            if (c > 0 || (c == 0 && mark.Leaving && !mine.Leaving))
                marks[node] = mark;
        }
        var seen = new SortedDictionary<string, SortedDictionary<string, long>>(StringComparer.Ordinal);
        foreach (var node in a._seen.Keys.Union(b._seen.Keys, StringComparer.Ordinal))
            seen[node] = MaxClock(a._seen.GetValueOrDefault(node), b._seen.GetValueOrDefault(node));
        return new Ring(owners, pending, ownerStamps, pendingStamps, marks.Select(m => (m.Key, m.Value.Leaving, m.Value.Stamp)),
            MaxClock(a._clock, b._clock).Select(c => (c.Key, c.Value)), seen.Select(s => (s.Key, s.Value.Select(c => (c.Key, c.Value)))), lost);
    }

    private static (string Value, Stamp Stamp) Higher((string Value, Stamp Stamp) x, (string Value, Stamp Stamp) y)
    {
        int c = x.Stamp.CompareTo(y.Stamp);
        return c > 0 || (c == 0 && string.CompareOrdinal(x.Value, y.Value) >= 0) ? x : y;
    }

    private static SortedDictionary<string, long> MaxClock(SortedDictionary<string, long>? x, SortedDictionary<string, long>? y)
    {
        var result = new SortedDictionary<string, long>(x ?? new SortedDictionary<string, long>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (var (claimant, counter) in y ?? [])
            result[claimant] = Math.Max(counter, result.GetValueOrDefault(claimant));
        return result;
    }

    /// <summary>True when this ring holds everything <paramref name="other"/> holds (merging it changes nothing).</summary>
    public bool Descends(Ring other) => Size == other.Size && Merge(this, other).Equals(this);

    /// <summary>
    /// Which of two rings to keep when only one can be (a follower's view): the one that holds the
    /// other (<see cref="Descends"/>); of two concurrent rings, the higher version and then a fixed
    /// order of their contents, so every node picks the same one. The ring manager merges instead.
    /// </summary>
    public bool Supersedes(Ring other)
    {
        if (Equals(other))
            return false;
        if (Size == other.Size)
        {
            var merged = Merge(this, other);
            if (merged.Equals(this))
                return true;
            if (merged.Equals(other))
                return false;
        }
        return Version != other.Version ? Version > other.Version : string.CompareOrdinal(Fingerprint, other.Fingerprint) > 0;
    }

    private string? _fingerprint;

    private string Fingerprint => _fingerprint ??= string.Join('\n', Owners.Select((o, p) => $"{o} {_ownerStamps[p]}")) + "|"
        + string.Join('\n', Pending.Select((o, p) => $"{o} {_pendingStamps[p]}")) + "|"
        + string.Join('\n', _leaveMarks.Select(m => $"{m.Key} {m.Value.Leaving} {m.Value.Stamp}")) + "|"
        + string.Join('\n', _clock.Select(c => $"{c.Key} {c.Value}")) + "|"
        + string.Join('\n', _seen.Select(s => s.Key + ":" + string.Join(',', s.Value.Select(c => $"{c.Key} {c.Value}")))) + "|"
        + string.Join(',', Lost);

    public bool Equals(Ring? other) => other is not null && (ReferenceEquals(this, other) || (Version == other.Version && Fingerprint == other.Fingerprint));

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
    /// A primary no node can stand in for stays in the list.
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
            Replica? fallback = null;
            for (int step = 0; step < Size; step++, next = (next + 1) % Size)
            {
                var owner = Owners[next];
                if (!unreachable.Contains(owner) && used.Add(owner))
                {
                    fallback = new Replica(primary.Partition, owner, Fallback: true);
                    next = (next + 1) % Size;
                    break;
                }
            }
            result.Add(fallback ?? primary); // no node left to stand in: the primary stays (and is waited for)
        }
        return result;
    }

    /// <summary>True when some preference list of length <paramref name="n"/> would put two replicas on one node.</summary>
    public bool ReplicasShareNodes(int n) => !Claim.DistinctWindows(Owners, n);
}
