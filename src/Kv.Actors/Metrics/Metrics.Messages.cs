namespace Kv.Actors.Metrics;

/// <summary>One value of a node's metrics: the instrument's name, its tags ("k=v,k=v", empty for none) and the value.</summary>
public sealed record MetricSample(string Name, string Labels, double Value);

/// <summary>A node's metrics at one moment (what its /metrics shows, plus the recent request rate and latency percentiles in ms).</summary>
public sealed record MetricsSnapshot(string Node, long TakenAtMs, IReadOnlyList<MetricSample> Samples)
{
    /// <summary>The sum of the samples named <paramref name="name"/> whose labels contain every one of <paramref name="labels"/>.</summary>
    public double Sum(string name, params string[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.Split(',').Contains(l))).Sum(s => s.Value);
}

/// <summary>To a node's admin actor (/user/kv-admin): its own <see cref="MetricsSnapshot"/>.</summary>
public sealed record GetMetricsSnapshot
{
    public static readonly GetMetricsSnapshot Instance = new();
}

/// <summary>To any node's admin actor: every member's <see cref="MetricsSnapshot"/> (answer: <see cref="ClusterMetrics"/>).</summary>
public sealed record GetClusterMetrics
{
    public static readonly GetClusterMetrics Instance = new();
}

/// <summary>One member's snapshot, or why there is none (no answer in time).</summary>
public sealed record NodeMetrics(string Node, MetricsSnapshot? Snapshot, string? Error);

/// <summary>The answer to <see cref="GetClusterMetrics"/>.</summary>
public sealed record ClusterMetrics(IReadOnlyList<NodeMetrics> Nodes);
