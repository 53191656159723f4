using Kv.Actors.Metrics;

namespace Kv.Client;

/// <summary>Metrics: every member's snapshot of its Meter "Kv" (what its /metrics shows), over the client protocol.</summary>
public sealed partial class KvClient
{
    /// <summary>
    /// Every member's <see cref="MetricsSnapshot"/> (counters, gauges, the request rate over the last
    /// 5 s and latency percentiles of its last 1024 requests); a member that does not answer within
    /// 3 s has an error instead.
    /// </summary>
    public Task<ClusterMetrics> GetClusterMetricsAsync() => Call<ClusterMetrics>(ClientCall.For(new AdminRequest(GetClusterMetrics.Instance)));
}
