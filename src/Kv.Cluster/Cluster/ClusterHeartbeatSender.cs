using Kv.Cluster.Actor;
using Kv.Cluster.Cluster.Protos;

namespace Kv.Cluster.Cluster;

/// <summary>
/// Sends request/reply heartbeats to the next <c>MonitoredByNrOfMembers</c> members on a ring
/// sorted by a hash of their unique address (everyone in small clusters), keeping unreachable ones
/// in the set, and feeds the answers to one phi accrual detector per node; a node crossing the
/// threshold is reported unreachable to the daemon, and reachable again when it answers.
/// </summary>
internal sealed class ClusterHeartbeatSender : ReceiveActor
{
    private readonly Cluster _cluster;
    private readonly ClusterOptions _options;
    private readonly Dictionary<UniqueAddress, PhiAccrualFailureDetector> _detectors = [];
    private readonly HashSet<UniqueAddress> _unreachable = [];
    private List<UniqueAddress> _monitored = [];
    private readonly ICancelable _tick;
    private long _sequence;

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    public ClusterHeartbeatSender(Cluster cluster)
    {
        _cluster = cluster;
        _options = cluster.Options;
        _tick = Context.System.Scheduler.ScheduleTellRepeatedly(_options.HeartbeatInterval, _options.HeartbeatInterval, Self, Tick.Instance, null);
        Receive<ClusterCommands.MonitoredMembers>(m => SetMembers(m.Members));
        Receive<HeartbeatResponseData>(OnResponse);
        Receive<Tick>(_ => OnTick());
    }

    protected override void PostStop() => _tick.Cancel();

    private long NowMs() => Context.System.TimeProvider.GetTimestamp() * 1000 / Context.System.TimeProvider.TimestampFrequency;

    private void SetMembers(IReadOnlyList<UniqueAddress> members)
    {
        var self = _cluster.SelfUniqueAddress;
        var ring = members.Where(m => m != self).Append(self).Distinct().OrderBy(Hash).ThenBy(m => m).ToList();
        int at = ring.IndexOf(self);
        var next = new List<UniqueAddress>();
        for (int i = 1; i < ring.Count && next.Count < _options.MonitoredByNrOfMembers; i++)
            next.Add(ring[(at + i) % ring.Count]);
        _monitored = next;
        foreach (var gone in _detectors.Keys.Where(k => !next.Contains(k)).ToList())
        {
            _detectors.Remove(gone);
            _unreachable.Remove(gone);
        }
        foreach (var node in next)
        {
            if (!_detectors.ContainsKey(node))
            {
                var fd = new PhiAccrualFailureDetector(_options.FailureDetectorThreshold, _options.MaxSampleSize, _options.MinStdDeviation,
                    _options.AcceptableHeartbeatPause, _options.HeartbeatInterval, NowMs);
                fd.Heartbeat(); // start the clock: a node that never answers becomes unreachable too
                _detectors[node] = fd;
            }
        }
    }

    private static ulong Hash(UniqueAddress node)
    {
        // FNV-1a over the text: stable across processes (never string.GetHashCode).
        ulong h = 14695981039346656037;
        foreach (char c in node.ToString())
        {
            h ^= c;
            h *= 1099511628211;
        }
        return h;
    }

    private void OnTick()
    {
        var request = new HeartbeatData { From = GossipCodec.ToProto(_cluster.SelfUniqueAddress), Sequence = ++_sequence };
        foreach (var node in _monitored)
        {
            Context.System.ResolveActorRef(ActorPath.Parse(node.Address + "/system/cluster/heartbeatReceiver")).Tell(request, Self);
            var fd = _detectors[node];
            bool available = fd.IsAvailable();
            if (!available && _unreachable.Add(node))
                Context.Parent.Tell(new ClusterCommands.MarkUnreachable(node), Self);
            else if (available && _unreachable.Remove(node))
                Context.Parent.Tell(new ClusterCommands.MarkReachable(node), Self);
        }
        _cluster.SetLiveness(_detectors.Where(d => !d.Value.IsAvailable()).Select(d => d.Key).ToHashSet());
    }

    private void OnResponse(HeartbeatResponseData response)
    {
        UniqueAddress from;
        try
        {
            from = GossipCodec.FromProto(response.From);
        }
        catch (FormatException)
        {
            return;
        }
        if (_detectors.TryGetValue(from, out var fd))
        {
            fd.Heartbeat();
            if (_unreachable.Remove(from))
                Context.Parent.Tell(new ClusterCommands.MarkReachable(from), Self);
        }
    }
}
