using Kv.Actors.Metrics;
using Kv.Actors.Protos;

namespace Kv.Actors.Wire;

/// <summary>Wire types of metrics (ids 350..353): a node's snapshot and every member's, and the questions for them.</summary>
internal static partial class KvSerializers
{
    private static void AddMetrics(Dictionary<int, IWireCodec> registry)
    {
        Add<GetMetricsSnapshot, EmptyData>(registry, 350, _ => new EmptyData(), _ => GetMetricsSnapshot.Instance);
        Add<MetricsSnapshot, MetricsSnapshotData>(registry, 351, ToWire, FromWire);
        Add<GetClusterMetrics, EmptyData>(registry, 352, _ => new EmptyData(), _ => GetClusterMetrics.Instance);
        Add<ClusterMetrics, ClusterMetricsData>(registry, 353,
            m => new ClusterMetricsData
            {
                Nodes =
                {
                    m.Nodes.Select(n => new NodeMetricsData
                    {
                        Node = n.Node, HasSnapshot = n.Snapshot is not null, Snapshot = n.Snapshot is null ? null : ToWire(n.Snapshot), Error = n.Error ?? "",
                    }),
                },
            },
            d => new ClusterMetrics(d.Nodes.Select(n => new NodeMetrics(n.Node,
                n.HasSnapshot ? FromWire(n.Snapshot ?? new MetricsSnapshotData()) : null, n.Error.Length == 0 ? null : n.Error)).ToList()));
    }

    private static MetricsSnapshotData ToWire(MetricsSnapshot s) => new()
    {
        Node = s.Node,
        TakenAtMs = s.TakenAtMs,
        Samples = { s.Samples.Select(x => new MetricSampleData { Name = x.Name, Labels = x.Labels, Value = x.Value }) },
    };

    private static MetricsSnapshot FromWire(MetricsSnapshotData d) =>
        new(d.Node, d.TakenAtMs, d.Samples.Select(x => new MetricSample(x.Name, x.Labels, x.Value)).ToList());
}
