namespace Kv.Actors.Ring;

/// <summary>
/// Ownership of Q partitions by nodes (Riak's claim goals): balanced (every node owns floor(Q/n) or
/// ceil(Q/n)), any <c>targetN</c> consecutive partitions owned by distinct nodes when the node count
/// allows it (more than targetN nodes, or exactly targetN dividing Q), so a preference list of up
/// to targetN never repeats a node, and as few moves from the previous ownership as it can.
/// </summary>
public static class Claim
{
    /// <summary>
    /// New owners for <paramref name="nodes"/> (sorted, distinct), starting from <paramref name="previous"/>
    /// (owners per partition; null or empty for a new ring).
    /// </summary>
    public static string[] Compute(IReadOnlyList<string>? previous, IReadOnlyList<string> nodes, int q, int targetN)
    {
        if (nodes.Count == 0)
            throw new ArgumentException("a ring needs at least one node", nameof(nodes));
        if (q <= 0 || (q & (q - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(q), q, "the ring size must be a power of two");
        var sorted = nodes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        // targetN distinct owners in every window when there are enough nodes for it; with fewer
        // nodes, balance and few moves only (the status command warns that replicas share nodes).
        int required = AchievableSpacing(q, sorted.Count, targetN);
        if (required == 1 && sorted.Count > 1)
            return FewNodes(previous, sorted, q, Math.Min(sorted.Count, targetN));
        if (previous is { Count: > 0 } && previous.Count == q)
        {
            var incremental = Incremental(previous, sorted, q, required);
            if (incremental is not null && IsValid(incremental, sorted, required))
                return incremental;
        }
        // A constructed layout (stripes with skips), rotated and labelled to agree with the previous
        // owners as much as it can, and greedy layouts that keep previous owners where they fit: the
        // valid one that moves the fewest partitions wins (ties: the constructed one, then the first).
        string[]? best = null;
        int bestMoves = int.MaxValue;
        void Consider(string[]? candidate)
        {
            if (candidate is null || !IsValid(candidate, sorted, required))
                return;
            int moves = previous is { Count: > 0 } && previous.Count == q ? Moves(previous, candidate) : 0;
            if (moves < bestMoves)
                (best, bestMoves) = (candidate, moves);
        }
        var constructed = Construct(sorted.Count, q, required);
        if (constructed is not null)
            Consider(BestLabelling(constructed, sorted, previous));
        for (int attempt = 0; attempt < 32 && (best is null || previous is { Count: > 0 }); attempt++)
            Consider(Greedy(sorted, q, required, previous, new Random(attempt)));
        if (best is not null)
            return previous is { Count: > 0 } && previous.Count == q ? CloserBySwaps(best, previous, required) : best;
        // Not reached in practice; striping is balanced at least.
        return Enumerable.Range(0, q).Select(i => sorted[i % sorted.Count]).ToArray();
    }

    /// <summary>
    /// The spacing claim guarantees: <paramref name="targetN"/> when there are more nodes than that (or
    /// exactly that many and they divide the ring), else 1 (no guarantee).
    /// </summary>
    public static int AchievableSpacing(int q, int n, int targetN) =>
        n > targetN || (n == targetN && q % n == 0) ? targetN : 1;

    /// <summary>
    /// Fewer nodes than a full spacing needs (e.g. 3 nodes, targetN 4, Q not a multiple of 3): as
    /// few windows of <paramref name="window"/> consecutive partitions with a repeated node as
    /// possible (a striped layout has them only where it wraps), balanced, labelled to agree
    /// with the previous owners; the fewest-moves layout is kept only if it is as good.
    /// </summary>
    private static string[] FewNodes(IReadOnlyList<string>? previous, List<string> nodes, int q, int window)
    {
        var striped = BestLabelling(Enumerable.Range(0, q).Select(i => i % nodes.Count).ToArray(), nodes, previous);
        if (previous is { Count: > 0 } && previous.Count == q && Incremental(previous, nodes, q, 1) is { } incremental
            && IsValid(incremental, nodes, 1) && BadWindows(incremental, window) <= BadWindows(striped, window))
            return incremental;
        return striped;
    }

    /// <summary>
    /// Swaps the owners of two partitions while that puts more partitions back with their previous
    /// owner and keeps the spacing (a swap keeps the balance): a fresh layout moves less.
    /// </summary>
    private static string[] CloserBySwaps(string[] owners, IReadOnlyList<string> previous, int spacing)
    {
        int q = owners.Length;
        bool improved = true;
        while (improved)
        {
            improved = false;
            for (int i = 0; i < q; i++)
            {
                string want = previous[i], have = owners[i];
                if (want == have)
                    continue;
                for (int j = 0; j < q; j++)
                {
                    if (owners[j] != want)
                        continue;
                    int gain = 1 + (previous[j] == have ? 1 : 0) - (previous[j] == want ? 1 : 0);
                    if (gain <= 0)
                        continue;
                    owners[i] = owners[j] = null!;
                    if (SpacedAt(owners, i, want, spacing) && SpacedAt(owners, j, have, spacing))
                    {
                        owners[i] = want;
                        owners[j] = have;
                        improved = true;
                        break;
                    }
                    owners[i] = have;
                    owners[j] = want;
                }
            }
        }
        return owners;
    }

    private static int Moves(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        int moves = 0;
        for (int p = 0; p < before.Count; p++)
        {
            if (!string.Equals(before[p], after[p], StringComparison.Ordinal))
                moves++;
        }
        return moves;
    }

    /// <summary>How many windows of <paramref name="size"/> consecutive partitions repeat a node.</summary>
    internal static int BadWindows(IReadOnlyList<string> owners, int size)
    {
        int bad = 0;
        for (int p = 0; p < owners.Count; p++)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < size; i++)
            {
                if (!seen.Add(owners[(p + i) % owners.Count]))
                {
                    bad++;
                    break;
                }
            }
        }
        return bad;
    }

    /// <summary>Target counts: the first Q mod n nodes (most owned first, to move less) get one more.</summary>
    private static Dictionary<string, int> Quotas(IReadOnlyList<string> nodes, int q, IReadOnlyList<string>? previous)
    {
        int baseCount = q / nodes.Count, extra = q % nodes.Count;
        var owned = nodes.ToDictionary(n => n, n => previous?.Count(o => o == n) ?? 0, StringComparer.Ordinal);
        var order = nodes.OrderByDescending(n => owned[n]).ThenBy(n => n, StringComparer.Ordinal).ToList();
        return order.Select((n, i) => (n, c: baseCount + (i < extra ? 1 : 0))).ToDictionary(x => x.n, x => x.c, StringComparer.Ordinal);
    }

    /// <summary>
    /// Few moves: keep every partition whose owner stays, give the partitions of departed nodes to
    /// nodes that fit there (spacing), then move partitions from nodes over their quota to nodes under
    /// it, one at a time, only where the receiver fits. Null when that cannot reach a valid ring.
    /// </summary>
    private static string[]? Incremental(IReadOnlyList<string> previous, List<string> nodes, int q, int spacing)
    {
        var owners = previous.Select(o => nodes.Contains(o) ? o : null).ToArray();
        var quota = Quotas(nodes, q, previous);
        var count = nodes.ToDictionary(n => n, n => owners.Count(o => o == n), StringComparer.Ordinal);
        for (int p = 0; p < q; p++)
        {
            if (owners[p] is not null)
                continue;
            var fit = nodes.Where(n => SpacedAt(owners, p, n, spacing))
                .OrderByDescending(n => quota[n] - count[n]).ThenBy(n => n, StringComparer.Ordinal).FirstOrDefault();
            if (fit is null)
                return null;
            owners[p] = fit;
            count[fit]++;
        }
        bool moved = true;
        while (moved)
        {
            moved = false;
            foreach (var under in nodes.Where(n => count[n] < quota[n]).ToList())
            {
                foreach (int p in Spread(q, count[under], under))
                {
                    if (count[under] >= quota[under])
                        break;
                    var owner = owners[p]!;
                    if (owner == under || count[owner] <= quota[owner] || !SpacedAt(owners, p, under, spacing))
                        continue;
                    owners[p] = under;
                    count[owner]--;
                    count[under]++;
                    moved = true;
                }
            }
        }
        return nodes.All(n => count[n] == quota[n]) ? owners.Select(o => o!).ToArray() : null;
    }

    /// <summary>
    /// Node indexes per partition: laps through 0..n-1 in order. When n does not divide q, either
    /// the last lap is cut short (when what is left is at least the spacing) or there is one more
    /// lap and the nodes with the smaller quota are each skipped once, spread over the laps.
    /// </summary>
    private static int[]? Construct(int n, int q, int spacing)
    {
        int laps = q / n, r = q % n;
        var skipIn = new Dictionary<int, int>(); // node -> the lap it is left out of
        if (r != 0)
        {
            laps++;
            for (int j = r, k = 0; j < n; j++, k++)
                skipIn[j] = r >= spacing ? laps - 1 : (int)((long)k * laps / (n - r));
        }
        var layout = new List<int>(q);
        for (int lap = 0; lap < laps; lap++)
        {
            for (int j = 0; j < n; j++)
            {
                if (!(skipIn.TryGetValue(j, out int skipped) && skipped == lap))
                    layout.Add(j);
            }
        }
        return layout.Count == q ? [.. layout] : null;
    }

    /// <summary>Rotation and node-to-index labelling of <paramref name="layout"/> that keep most previous owners.</summary>
    private static string[] BestLabelling(int[] layout, List<string> nodes, IReadOnlyList<string>? previous)
    {
        int q = layout.Length, n = nodes.Count;
        if (previous is not { Count: > 0 } || previous.Count != q)
            return layout.Select(i => nodes[i]).ToArray();
        var nodeIndex = nodes.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i, StringComparer.Ordinal);
        string[]? best = null;
        int bestKept = -1;
        var overlap = new int[n, n];
        for (int rotation = 0; rotation < q; rotation++)
        {
            Array.Clear(overlap);
            for (int p = 0; p < q; p++)
            {
                if (nodeIndex.TryGetValue(previous[p], out int owner))
                    overlap[layout[(p + rotation) % q], owner]++;
            }
            // Greedy matching of layout indexes to nodes by overlap, largest first.
            var pairs = new List<(int Count, int Slot, int Node)>(n * n);
            for (int a = 0; a < n; a++)
            {
                for (int b = 0; b < n; b++)
                    pairs.Add((overlap[a, b], a, b));
            }
            pairs.Sort((x, y) => y.Count.CompareTo(x.Count));
            var slotTo = new int[n];
            Array.Fill(slotTo, -1);
            var used = new bool[n];
            int kept = 0;
            foreach (var (count, slot, node) in pairs)
            {
                if (slotTo[slot] >= 0 || used[node])
                    continue;
                slotTo[slot] = node;
                used[node] = true;
                kept += count;
            }
            if (kept > bestKept)
            {
                bestKept = kept;
                best = new string[q];
                for (int p = 0; p < q; p++)
                    best[p] = nodes[slotTo[layout[(p + rotation) % q]]];
            }
        }
        return best!;
    }

    /// <summary>Partitions in an order that spreads a node's picks around the ring.</summary>
    private static IEnumerable<int> Spread(int q, int seed, string node)
    {
        // A stable per-node starting point (FNV-1a; the claim must be reproducible).
        uint h = 2166136261;
        foreach (char c in node)
            h = (h ^ c) * 16777619;
        int start = (int)((h ^ (uint)seed) % (uint)q);
        for (int i = 0; i < q; i++)
            yield return (start + i) % q;
    }

    private static string[]? Greedy(List<string> nodes, int q, int spacing, IReadOnlyList<string>? previous, Random random)
    {
        var quota = Quotas(nodes, q, previous);
        var left = new Dictionary<string, int>(quota, StringComparer.Ordinal);
        var owners = new string?[q];
        for (int p = 0; p < q; p++)
        {
            var candidates = nodes.Where(n => left[n] > 0 && SpacedAt(owners, p, n, spacing)).ToList();
            if (candidates.Count == 0)
                return null;
            // Keep the previous owner when it fits; otherwise the node with the most left to place.
            string? keep = previous is { Count: > 0 } && previous.Count == q && candidates.Contains(previous[p]) ? previous[p] : null;
            int most = candidates.Max(n => left[n]);
            var best = candidates.Where(n => left[n] == most).ToList();
            var pick = keep is not null && left[keep] >= most - 1 ? keep : best[random.Next(best.Count)];
            owners[p] = pick;
            left[pick]--;
        }
        return owners!;
    }

    /// <summary>True when <paramref name="node"/> owns none of the spacing-1 partitions on either side of p.</summary>
    private static bool SpacedAt(IReadOnlyList<string?> owners, int p, string node, int spacing)
    {
        int q = owners.Count;
        for (int d = 1; d < spacing; d++)
        {
            if (owners[(p + d) % q] == node || owners[(p - d + q) % q] == node)
                return false;
        }
        return true;
    }

    /// <summary>Balanced, every partition owned by a listed node, and spacing held everywhere.</summary>
    public static bool IsValid(IReadOnlyList<string> owners, IReadOnlyList<string> nodes, int spacing)
    {
        int q = owners.Count;
        if (owners.Any(o => o is null || !nodes.Contains(o)))
            return false;
        int min = q / nodes.Count, max = (q + nodes.Count - 1) / nodes.Count;
        foreach (var n in nodes)
        {
            int c = owners.Count(o => o == n);
            if (c < min || c > max)
                return false;
        }
        return DistinctWindows(owners, spacing);
    }

    /// <summary>Every window of <paramref name="size"/> consecutive partitions (wrapping) has distinct owners.</summary>
    public static bool DistinctWindows(IReadOnlyList<string> owners, int size)
    {
        int q = owners.Count;
        for (int p = 0; p < q; p++)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int d = 0; d < size; d++)
            {
                if (!seen.Add(owners[(p + d) % q]))
                    return false;
            }
        }
        return true;
    }
}
