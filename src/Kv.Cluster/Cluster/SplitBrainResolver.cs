using Kv.Cluster.Actor;
using Kv.Cluster.Event;

namespace Kv.Cluster.Cluster;

/// <summary>
/// The downing provider (/system/cluster/downingProvider). Waits until the set of unreachable
/// members has been stable for <c>StableAfter</c>, then - only on the leader of this side - applies
/// the configured strategy. If the unreachable set keeps changing for StableAfter * 1.75,
/// down-all-when-unstable downs everyone. Never downs on a single observation.
/// </summary>
internal sealed class SplitBrainResolver : ReceiveActor
{
    private readonly Cluster _cluster;
    private readonly ClusterOptions _options;
    private Gossip _gossip = Gossip.Empty;
    private HashSet<UniqueAddress> _unreachable = [];
    private long _stableSince;
    private long _unstableSince = -1;
    private readonly ICancelable _tick;

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    public SplitBrainResolver(Cluster cluster)
    {
        _cluster = cluster;
        _options = cluster.Options;
        // Fine enough that the decision lands close to stable-after, not a tenth of it later.
        var every = TimeSpan.FromTicks(Math.Clamp(_options.StableAfter.Ticks / 40, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromMilliseconds(500).Ticks));
        _tick = Context.System.Scheduler.ScheduleTellRepeatedly(every, every, Self, Tick.Instance, null);
        Receive<ClusterCommands.GossipUpdated>(g => OnGossip(g.Gossip));
        Receive<Tick>(_ => Decide());
    }

    protected override void PostStop() => _tick.Cancel();

    private long NowMs => Context.System.TimeProvider.GetTimestamp() * 1000 / Context.System.TimeProvider.TimestampFrequency;

    private void OnGossip(Gossip gossip)
    {
        _gossip = gossip;
        var unreachable = gossip.Members.Values
            .Where(m => m.Status is not (MemberStatus.Down or MemberStatus.Removed) && !gossip.IsReachable(m.UniqueAddress))
            .Select(m => m.UniqueAddress).ToHashSet();
        if (!unreachable.SetEquals(_unreachable))
        {
            long now = NowMs;
            _stableSince = now;
            if (unreachable.Count == 0)
                _unstableSince = -1;
            else if (_unstableSince < 0)
                _unstableSince = now;
            _unreachable = unreachable;
        }
    }

    private void Decide()
    {
        if (_options.Downing == DowningStrategy.Off || _unreachable.Count == 0)
            return;
        var self = _cluster.SelfUniqueAddress;
        if (_gossip.Leader() != self)
            return;
        long now = NowMs;
        long stable = (long)_options.StableAfter.TotalMilliseconds;
        bool unstableTooLong = _options.DownAllWhenUnstable && _unstableSince >= 0 && now - _unstableSince > stable + stable * 3 / 4;
        if (now - _stableSince < stable && !unstableTooLong)
            return;
        var reachable = _gossip.Members.Values.Where(m => m.Status is not (MemberStatus.Down or MemberStatus.Removed) && !_unreachable.Contains(m.UniqueAddress)).ToList();
        var unreachable = _gossip.Members.Values.Where(m => _unreachable.Contains(m.UniqueAddress)).ToList();
        var strategy = unstableTooLong && now - _stableSince < stable ? DowningStrategy.DownAll : _options.Downing;
        var down = SplitBrainDecision.Decide(strategy, reachable, unreachable, _options.StaticQuorumSize, _options.KeepOldestDownIfAlone);
        if (down.Count == 0)
            return;
        string reason = $"split-brain resolver ({strategy}): {reachable.Count} reachable, {unreachable.Count} unreachable, stable for {(now - _stableSince) / 1000.0:0.0} s";
        Log.Warning(reason + $"; downing {string.Join(", ", down.Select(d => d.Address))}");
        Context.Parent.Tell(new ClusterCommands.DownMembers(down, reason), Self);
        _stableSince = now; // do not repeat the same decision every tick
    }
}
