namespace Kv.Cluster.Cluster;

/// <summary>How two versions relate.</summary>
public enum VectorClockOrdering
{
    Same,
    Before,
    After,
    Concurrent,
}

/// <summary>An immutable vector clock keyed by node (the gossip's version).</summary>
public sealed class VectorClock
{
    public static readonly VectorClock Empty = new(new SortedDictionary<string, long>(StringComparer.Ordinal));

    private readonly SortedDictionary<string, long> _versions;

    private VectorClock(SortedDictionary<string, long> versions) => _versions = versions;

    public IReadOnlyDictionary<string, long> Versions => _versions;

    public static VectorClock From(IEnumerable<KeyValuePair<string, long>> entries)
    {
        var d = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var (k, v) in entries)
        {
            if (v < 0)
                throw new FormatException("a vector clock entry is never negative");
            d[k] = v;
        }
        return new VectorClock(d);
    }

    public VectorClock Increment(string node)
    {
        var d = new SortedDictionary<string, long>(_versions, StringComparer.Ordinal);
        d[node] = (d.TryGetValue(node, out var v) ? v : 0) + 1;
        return new VectorClock(d);
    }

    public VectorClock Merge(VectorClock other)
    {
        var d = new SortedDictionary<string, long>(_versions, StringComparer.Ordinal);
        foreach (var (k, v) in other._versions)
        {
            if (!d.TryGetValue(k, out var mine) || v > mine)
                d[k] = v;
        }
        return new VectorClock(d);
    }

    public VectorClock Prune(string node)
    {
        if (!_versions.ContainsKey(node))
            return this;
        var d = new SortedDictionary<string, long>(_versions, StringComparer.Ordinal);
        d.Remove(node);
        return new VectorClock(d);
    }

    public VectorClockOrdering CompareTo(VectorClock other)
    {
        bool before = false, after = false;
        foreach (var key in _versions.Keys.Union(other._versions.Keys))
        {
            long a = _versions.TryGetValue(key, out var x) ? x : 0;
            long b = other._versions.TryGetValue(key, out var y) ? y : 0;
            if (a < b)
                before = true;
            else if (a > b)
                after = true;
        }
        return (before, after) switch
        {
            (false, false) => VectorClockOrdering.Same,
            (true, false) => VectorClockOrdering.Before,
            (false, true) => VectorClockOrdering.After,
            _ => VectorClockOrdering.Concurrent,
        };
    }

    public override string ToString() => "{" + string.Join(", ", _versions.Select(kv => $"{kv.Key}:{kv.Value}")) + "}";
}
