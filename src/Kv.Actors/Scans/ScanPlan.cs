namespace Kv.Actors.Scans;

/// <summary>One vnode of a coverage plan and the partitions whose keys it is asked for.</summary>
public sealed record ScanPlanGroup(string Node, int Vnode, IReadOnlyList<int> Partitions);

/// <summary>
/// A coverage plan (Riak's coverage queries): for each partition p one vnode that holds p's keys,
/// so that together they hold every key once. With n_val n, p's keys are on the vnodes of p, p+1,
/// .., p+n-1 (the current owners: a partition being handed off is read at its old owner until the
/// transfer completed, which is when the new one holds everything). A vnode chosen for one partition
/// is used for every later one it holds, and a new one is the furthest candidate (it holds the most
/// of the partitions that follow), so a plan asks about Q/n vnodes; it starts at a given partition
/// so that plans spread over the replicas. Vnodes on nodes not usable (down, unreachable), excluded
/// (they answered unsynced, failed or did not answer), or of a partition the ring lists as lost
/// (maybe still filling) only when nothing else is left.
/// </summary>
public static class ScanPlan
{
    /// <summary>The plan, or the first partition no vnode can answer for (then Groups is empty).</summary>
    public static (IReadOnlyList<ScanPlanGroup> Groups, int? Uncovered) Make(Ring.Ring ring, int nVal, Func<string, bool> usable,
        IReadOnlySet<(string Node, int Vnode)> excluded, int start)
    {
        int q = ring.Size;
        int n = Math.Clamp(nVal, 1, q);
        var lost = ring.Lost.ToHashSet();
        var chosen = new Dictionary<int, List<int>>();
        var chosenOrder = new List<int>();
        for (int i = 0; i < q; i++)
        {
            int p = ((start + i) % q + q) % q;
            bool Candidate(int vnode) => usable(ring.Owners[vnode]) && !excluded.Contains((ring.Owners[vnode], vnode));
            int? pick = null;
            // A vnode already in the plan that holds p.
            foreach (int c in chosenOrder)
            {
                if (((c - p) % q + q) % q < n && !lost.Contains(c))
                {
                    pick = c;
                    break;
                }
            }
            // Else the furthest candidate, a lost partition's only when nothing else is left.
            for (int pass = 0; pass < 2 && pick is null; pass++)
            {
                for (int d = n - 1; d >= 0; d--)
                {
                    int c = (p + d) % q;
                    if (Candidate(c) && (pass == 1 || !lost.Contains(c)))
                    {
                        pick = c;
                        break;
                    }
                }
            }
            if (pick is not { } v)
                return ([], p);
            if (!chosen.TryGetValue(v, out var list))
            {
                chosen[v] = list = [];
                chosenOrder.Add(v);
            }
            list.Add(p);
        }
        return (chosenOrder.Select(v => new ScanPlanGroup(ring.Owners[v], v, chosen[v])).ToList(), null);
    }
}
