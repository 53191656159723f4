namespace Kv.Cluster.Cluster;

/// <summary>
/// The split-brain strategies as pure functions: given the members this side can reach and the
/// ones it cannot, which to down. Joining and WeaklyUp members never count in the decision.
/// </summary>
public static class SplitBrainDecision
{
    /// <summary>Members to down (possibly this whole side).</summary>
    public static IReadOnlyList<UniqueAddress> Decide(
        DowningStrategy strategy, IReadOnlyList<Member> reachable, IReadOnlyList<Member> unreachable, int staticQuorumSize = 0, bool keepOldestDownIfAlone = true)
    {
        static bool Counts(Member m) => m.Status is MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Exiting;
        var mine = reachable.Where(Counts).ToList();
        var theirs = unreachable.Where(Counts).ToList();
        IReadOnlyList<UniqueAddress> DownThem() => unreachable.Select(m => m.UniqueAddress).ToList();
        IReadOnlyList<UniqueAddress> DownUs() => reachable.Select(m => m.UniqueAddress).ToList();
        IReadOnlyList<UniqueAddress> DownAll() => DownUs().Concat(DownThem()).ToList();
        switch (strategy)
        {
            case DowningStrategy.KeepMajority:
                if (mine.Count != theirs.Count)
                    return mine.Count > theirs.Count ? DownThem() : DownUs();
                // Even split: the side holding the lowest address survives.
                var lowest = mine.Concat(theirs).Select(m => m.UniqueAddress).DefaultIfEmpty().Min();
                return lowest is not null && mine.Any(m => m.UniqueAddress == lowest) ? DownThem() : DownUs();
            case DowningStrategy.StaticQuorum:
                return mine.Count >= staticQuorumSize ? DownThem() : DownUs();
            case DowningStrategy.KeepOldest:
                var all = mine.Concat(theirs).ToList();
                if (all.Count == 0)
                    return [];
                var oldest = all.Aggregate((a, b) => a.IsOlderThan(b) ? a : b);
                bool oldestHere = mine.Contains(oldest);
                if (oldestHere)
                    return keepOldestDownIfAlone && mine.Count == 1 && theirs.Count > 1 ? DownUs() : DownThem();
                return keepOldestDownIfAlone && theirs.Count == 1 && mine.Count > 1 ? DownThem() : DownUs();
            case DowningStrategy.DownAll:
                return DownAll();
            default:
                return [];
        }
    }
}
