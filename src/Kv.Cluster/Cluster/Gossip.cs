using System.Collections.Immutable;

namespace Kv.Cluster.Cluster;

/// <summary>
/// The replicated cluster state: members, per-observer reachability, who has seen this version,
/// the version (a vector clock), and tombstones of removed incarnations. Immutable; merged as a
/// CRDT (highest status priority per incarnation wins, tombstones keep removed uids out).
/// </summary>
public sealed class Gossip
{
    public static readonly Gossip Empty = new(
        ImmutableSortedDictionary<UniqueAddress, Member>.Empty, Reachability.Empty,
        ImmutableHashSet<UniqueAddress>.Empty, VectorClock.Empty, ImmutableDictionary<UniqueAddress, long>.Empty);

    public Gossip(
        ImmutableSortedDictionary<UniqueAddress, Member> members,
        Reachability reachability,
        ImmutableHashSet<UniqueAddress> seen,
        VectorClock version,
        ImmutableDictionary<UniqueAddress, long> tombstones)
    {
        Members = members;
        Reachability = reachability;
        Seen = seen;
        Version = version;
        Tombstones = tombstones;
    }

    public ImmutableSortedDictionary<UniqueAddress, Member> Members { get; }
    public Reachability Reachability { get; }
    public ImmutableHashSet<UniqueAddress> Seen { get; }
    public VectorClock Version { get; }
    public ImmutableDictionary<UniqueAddress, long> Tombstones { get; }

    public Gossip With(
        ImmutableSortedDictionary<UniqueAddress, Member>? members = null,
        Reachability? reachability = null,
        ImmutableHashSet<UniqueAddress>? seen = null,
        VectorClock? version = null,
        ImmutableDictionary<UniqueAddress, long>? tombstones = null) =>
        new(members ?? Members, reachability ?? Reachability, seen ?? Seen, version ?? Version, tombstones ?? Tombstones);

    public Member? Member(UniqueAddress node) => Members.TryGetValue(node, out var m) ? m : null;

    public Member? MemberByAddress(Kv.Cluster.Actor.Address address) => Members.Values.FirstOrDefault(m => m.Address.Equals(address));

    public bool IsReachable(UniqueAddress node) => Reachability.IsReachable(node);

    /// <summary>A local change: a new version, seen only by <paramref name="self"/>.</summary>
    public Gossip Changed(UniqueAddress self) =>
        With(version: Version.Increment(self.ToString()), seen: [self]);

    public Gossip SeenBy(UniqueAddress node) => Seen.Contains(node) ? this : With(seen: Seen.Add(node));

    public Gossip Merge(Gossip other)
    {
        var tombstones = Tombstones;
        foreach (var (node, at) in other.Tombstones)
            tombstones = tombstones.SetItem(node, Math.Max(at, tombstones.TryGetValue(node, out var mine) ? mine : 0));
        var members = ImmutableSortedDictionary.CreateBuilder<UniqueAddress, Member>();
        foreach (var m in Members.Values.Concat(other.Members.Values))
        {
            if (tombstones.ContainsKey(m.UniqueAddress))
                continue;
            if (!members.TryGetValue(m.UniqueAddress, out var existing))
            {
                members[m.UniqueAddress] = m;
            }
            else
            {
                var winner = MemberStatusOrder.Priority(m.Status) > MemberStatusOrder.Priority(existing.Status) ? m : existing;
                int up = existing.UpNumber == 0 ? m.UpNumber : m.UpNumber == 0 ? existing.UpNumber : Math.Min(existing.UpNumber, m.UpNumber);
                members[m.UniqueAddress] = winner with { UpNumber = up };
            }
        }
        var reachability = Reachability.Merge(other.Reachability).Remove(tombstones.Keys);
        var version = Version.Merge(other.Version);
        return new Gossip(members.ToImmutable(), reachability, [], version, tombstones);
    }

    /// <summary>Members no observer has flagged (the reachable part of the cluster as this gossip knows it).</summary>
    public IEnumerable<Member> ReachableMembers => Members.Values.Where(m => Reachability.IsReachable(m.UniqueAddress));

    /// <summary>
    /// Convergence (Akka's rule): every unreachable member is Down or Exiting, and every reachable
    /// Up or Leaving member has seen this version. <paramref name="ignore"/> are treated as gone.
    /// </summary>
    public bool Convergence(UniqueAddress self, IReadOnlySet<UniqueAddress>? ignore = null)
    {
        foreach (var m in Members.Values)
        {
            if (ignore?.Contains(m.UniqueAddress) == true)
                continue;
            bool reachable = Reachability.IsReachable(m.UniqueAddress);
            if (!reachable)
            {
                if (m.Status is not (MemberStatus.Down or MemberStatus.Exiting))
                    return false;
                continue;
            }
            if (m.Status is MemberStatus.Up or MemberStatus.Leaving && !Seen.Contains(m.UniqueAddress))
                return false;
        }
        return Seen.Contains(self);
    }

    /// <summary>The leader: first reachable Up/Leaving member by address; first reachable member if there is none.</summary>
    public UniqueAddress? Leader(IReadOnlySet<UniqueAddress>? reachableFilter = null)
    {
        var reachable = Members.Values
            .Where(m => m.Status is not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting))
            .Where(m => reachableFilter is null ? Reachability.IsReachable(m.UniqueAddress) : reachableFilter.Contains(m.UniqueAddress))
            .ToList();
        var eligible = reachable.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving).ToList();
        var pool = eligible.Count > 0 ? eligible : reachable;
        return pool.Count == 0 ? null : pool.Min(m => m.UniqueAddress);
    }

    /// <summary>Replaces (or adds) a member.</summary>
    public Gossip WithMember(Member m) => With(members: Members.SetItem(m.UniqueAddress, m));

    /// <summary>Drops removed members into tombstones.</summary>
    public Gossip Remove(UniqueAddress node, long nowMs) => With(
        members: Members.Remove(node),
        reachability: Reachability.Remove([node]),
        seen: Seen.Remove(node),
        version: Version.Prune(node.ToString()),
        tombstones: Tombstones.SetItem(node, nowMs));

    /// <summary>Forgets tombstones older than <paramref name="keepMs"/>.</summary>
    public Gossip PruneTombstones(long nowMs, long keepMs)
    {
        var old = Tombstones.Where(t => nowMs - t.Value > keepMs).Select(t => t.Key).ToList();
        return old.Count == 0 ? this : With(tombstones: Tombstones.RemoveRange(old));
    }
}
