using Akka.Actor;
using Akka.Event;
using Akka.Cluster;
using static Akka.Cluster.ClusterEvent;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Ring;

/// <summary>
/// The ring membership actor (at /user/kv-ring on every node). It holds the node's ring, persisted
/// in ring.bin, and gossips it: pushed to every member on change, to a random member every tick,
/// and an older ring received is answered with the newer one, so all nodes end on the same
/// version. The cluster leader is the claimant: when membership has converged it creates the
/// first ring, recomputes the claim when the Up members (minus those leaving the ring) differ
/// from the ring's, switches partitions of nodes gone from the cluster at once, and switches a
/// handed-off partition when its old owner reports the transfer complete. Others send such
/// reports and leave requests on to the leader, and repeat them until the ring shows them.
/// A node that finds itself marked leaving in the ring although it never asked to leave since it
/// started (it left, or was leaving when the cluster stopped, and was started again at the same
/// address) asks the claimant to take the mark off, so it is claimed again.
/// <para>
/// Rings received are merged into ours (<see cref="Ring.Merge"/>), not compared by version: two
/// claimants that made the same version (a new leader with a stale ring, two sides of a
/// partition) both keep their changes. Every ring a node adopts records that node in the ring's
/// seen clocks, so an old owner knows when every member has seen its partition switch.
/// </para>
/// <para>
/// A node serves requests (<see cref="ServingChanged"/>) once it is an Up member and its ring is
/// the cluster's: when it becomes Up it asks every other Up member for its ring, and serves when
/// one has come back (or it claimed the ring, or no other member is Up). A node started again with
/// the ring it stored, before the cluster has admitted it, could otherwise coordinate writes on
/// the partitions it used to hold, with another such node, where no quorum read looks.
/// </para>
/// </summary>
public sealed class RingManager : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private readonly KvNodeOptions _options;
    private readonly string _self;
    private readonly Dictionary<int, TransferComplete> _reports = [];
    private readonly HashSet<string> _leaveRequests = [];
    private readonly HashSet<string> _rejoinRequests = [];
    private bool _selfLeaving; // this incarnation asked to leave the ring
    private Ring? _ring;
    private int _claimantTicks;
    private bool _selfUp; // this incarnation has been an Up member
    private bool _ringFromCluster; // since then a ring came from another Up member, or this node claimed it
    private bool _serving;
    private bool _startedEmpty; // no stored ring at start
    private bool _dataLost; // ... and the cluster's ring shows this node had been a member
    // Ring members seen unreachable or out of the cluster, since when (by this node's clock): kept
    // in the claim until kv.cluster.permanent-failure-after has passed.
    private readonly Dictionary<string, DateTime> _awaySince = new(StringComparer.Ordinal);
    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    public RingManager(KvNodeOptions options, string selfNode)
    {
        (_options, _self) = (options, selfNode);
        Receive<Tick>(_ => OnTick());
        Receive<RingGossip>(OnGossip);
        Receive<TransferComplete>(OnTransferComplete);
        Receive<LeaveRing>(OnLeaveRing);
        Receive<RejoinRing>(OnRejoinRing);
        Receive<GetRing>(_ => Sender.Tell(new CurrentRing(_ring) { DataLost = _dataLost }, Self));
        Receive<CurrentRing>(OnPulled);
        Receive<GetServing>(_ => Sender.Tell(new ServingChanged(_serving), Self));
        Receive<IMemberEvent>(m =>
        {
            if (!_selfUp && Serves(m.Member.Status) && m.Member.UniqueAddress.Equals(ClusterExt.Get(Context.System).SelfUniqueAddress))
            {
                _selfUp = true;
                PullFromMembers();
            }
            UpdateServing();
        });
    }

    /// <summary>The ring's file in the data directory.</summary>
    public const string FileName = "ring.bin";

    private string FilePath => Path.Combine(_options.DataDirectory, FileName);

    protected override void PreStart()
    {
        Directory.CreateDirectory(_options.DataDirectory);
        try
        {
            _ring = RingFile.Read(FilePath);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            Log.Error(e, $"the stored ring is unreadable ({e.Message}); waiting for the ring from other nodes");
        }
        _startedEmpty = _ring is null;
        if (_ring is not null)
        {
            if (_ring.Size != _options.RingSize)
                Log.Warning($"the stored ring has {_ring.Size} partitions; kv.ring-size = {_options.RingSize} only applies to a new cluster");
            Context.System.EventStream.Publish(new RingChanged(_ring));
        }
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _options.RingTick);
        ClusterExt.Get(Context.System).Subscribe(Self, InitialStateAsEvents, typeof(IMemberEvent));
    }

    protected override void PostStop() => ClusterExt.Get(Context.System).Unsubscribe(Self);

    private static bool Serves(MemberStatus s) => s is MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Exiting;

    /// <summary>Other members that are (or were, leaving now) Up: their rings are the cluster's.</summary>
    private List<Member> UpPeers(CurrentClusterState state) =>
        state.Members.Where(m => Serves(m.Status) && m.Address.ToString() != _self).ToList();

    private void PullFromMembers()
    {
        foreach (var peer in UpPeers(ClusterExt.Get(Context.System).State))
            RingManagerOn(peer.Address.ToString()).Tell(GetRing.Instance, Self);
    }

    /// <summary>Whether a message came from the ring manager of another Up member.</summary>
    private bool FromUpPeer() =>
        !Sender.Path.Address.HasLocalScope && UpPeers(ClusterExt.Get(Context.System).State).Any(m => m.Address.Equals(Sender.Path.Address));

    private void UpdateServing()
    {
        if (_serving || !_selfUp || _ring is null)
            return;
        if (!_ringFromCluster && UpPeers(ClusterExt.Get(Context.System).State).Count > 0)
            return;
        _serving = true;
        Log.Info($"serving requests: this node is Up and holds the cluster's ring ({_ring})");
        Context.System.EventStream.Publish(new ServingChanged(true));
    }

    /// <summary>A peer's answer to <see cref="PullFromMembers"/>: merged like gossip.</summary>
    private void OnPulled(CurrentRing pulled)
    {
        if (pulled.Ring is null)
            return;
        OnGossip(new RingGossip(pulled.Ring));
    }


    private static bool Alive(MemberStatus s) => s is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Exiting;

    private IActorRef RingManagerOn(string node) => KvPaths.On(Context.System, node, KvPaths.RingManager);

    private List<string> Peers(CurrentClusterState state) =>
        state.Members.Where(m => Alive(m.Status)).Select(m => m.Address.ToString()).Where(a => a != _self).ToList();

    private void OnTick()
    {
        var state = ClusterExt.Get(Context.System).State;
        var peers = Peers(state);
        if (_ring is not null && peers.Count > 0)
            RingManagerOn(peers[Random.Shared.Next(peers.Count)]).Tell(new RingGossip(_ring), Self);
        Prune();
        TrackAway(state);
        if (_selfUp && !_serving)
        {
            PullFromMembers();
            UpdateServing();
        }
        if (!_selfLeaving && _ring is not null && _ring.Leaving.Contains(_self)
            && state.Members.Any(m => m.Address.ToString() == _self && m.Status == MemberStatus.Up))
            _rejoinRequests.Add(_self);
        string? leader = state.Leader?.ToString();
        if (leader == _self && ClusterConvergence.Of(state))
        {
            _claimantTicks++;
            Claim(state);
        }
        else
        {
            _claimantTicks = 0;
            if (leader is not null && leader != _self)
            {
                var claimant = RingManagerOn(leader);
                foreach (var report in _reports.Values)
                    claimant.Tell(report, Self);
                foreach (var node in _leaveRequests)
                    claimant.Tell(new LeaveRing(node), Self);
                foreach (var node in _rejoinRequests)
                    claimant.Tell(new RejoinRing(node), Self);
            }
        }
    }

    /// <summary>Forgets reports and leave requests the ring already shows.</summary>
    private void Prune()
    {
        if (_ring is null)
            return;
        foreach (var (p, r) in _reports.ToList())
        {
            if (p >= _ring.Size || _ring.Owners[p] != r.From || _ring.Pending[p] != r.To)
                _reports.Remove(p);
        }
        _leaveRequests.RemoveWhere(n => _ring.Leaving.Contains(n) || !_ring.Owners.Contains(n));
        _rejoinRequests.RemoveWhere(n => !_ring.Leaving.Contains(n));
    }

    /// <summary>Notes since when each ring member has been unreachable or out of the cluster (every node does, so a new claimant knows too).</summary>
    private void TrackAway(CurrentClusterState state)
    {
        if (_ring is null)
            return;
        var present = state.Members.Where(m => Alive(m.Status) && !state.Unreachable.Contains(m)).Select(m => m.Address.ToString()).ToHashSet(StringComparer.Ordinal);
        var now = DateTime.UtcNow;
        foreach (var node in _ring.Owners.Concat(_ring.Pending).Distinct())
        {
            if (present.Contains(node))
                _awaySince.Remove(node);
            else
                _awaySince.TryAdd(node, now);
        }
        foreach (var node in _awaySince.Keys.Where(n => !_ring.Owners.Contains(n) && !_ring.Pending.Contains(n)).ToList())
            _awaySince.Remove(node);
    }

    /// <summary>
    /// Ring members out of the cluster (downed) for less than permanent-failure-after: the claim
    /// keeps their partitions (fallbacks stand in; a node that comes back finds them).
    /// </summary>
    private HashSet<string> Tolerated(IReadOnlySet<string> alive)
    {
        var now = DateTime.UtcNow;
        return _awaySince.Where(a => !alive.Contains(a.Key) && now - a.Value < _options.PermanentFailureAfter).Select(a => a.Key).ToHashSet(StringComparer.Ordinal);
    }

    private void Claim(CurrentClusterState state)
    {
        var alive = state.Members.Where(m => Alive(m.Status)).Select(m => m.Address.ToString()).ToHashSet(StringComparer.Ordinal);
        // Downed members not yet away for permanent-failure-after count as alive and claimed: their
        // partitions stay theirs until then.
        var tolerated = Tolerated(alive);
        alive.UnionWith(tolerated);
        var up = state.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address.ToString()).ToList();
        if (_ring is null)
        {
            // A first ring, unless another node gossips one first (give it a few ticks).
            if (_claimantTicks < 3 || up.Count == 0)
                return;
            if (_selfUp)
                _ringFromCluster = true; // the claimant's first ring is the cluster's
            Adopt(Ring.Create(up, _options.RingSize, _options.TargetNVal, _self), "created");
            UpdateServing();
            return;
        }
        var ring = _ring;
        foreach (var report in _reports.Values)
            ring = ring.CompleteTransfer(report.Partition, report.From, report.To, _self) ?? ring;
        foreach (var node in _rejoinRequests)
        {
            if (ring.Leaving.Contains(node) && !_leaveRequests.Contains(node))
                ring = ring.WithoutLeaving(node, _self);
        }
        foreach (var node in _leaveRequests)
        {
            if (!ring.Leaving.Contains(node) && ring.Members.Contains(node))
                ring = ring.WithLeaving(node, _self);
        }
        // A ring member stays in the claim while its address is in the cluster (a quick restart
        // rejoins as a new incarnation of the same address); new nodes enter once they are Up.
        var members = ring.Members.ToHashSet(StringComparer.Ordinal);
        var claimNodes = state.Members
            .Where(m => m.Status == MemberStatus.Up || (members.Contains(m.Address.ToString()) && m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp))
            .Select(m => m.Address.ToString()).Concat(tolerated.Where(members.Contains))
            .Where(n => !ring.Leaving.Contains(n)).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var gone in ring.Members.Where(n => !alive.Contains(n) && _awaySince.ContainsKey(n)))
            Log.Warning($"{gone} has been away for {(DateTime.UtcNow - _awaySince[gone]).TotalSeconds:0} s (permanent-failure-after {_options.PermanentFailureAfter.TotalSeconds:0} s): removed for good; its partitions go to the others, which fill them from the surviving replicas");
        bool changed = claimNodes.Count > 0 && (!ring.Members.SequenceEqual(claimNodes) || ring.Owners.Concat(ring.Pending).Concat(ring.Leaving).Any(o => !alive.Contains(o)));
        if (changed)
            ring = ring.Reclaim(claimNodes, alive, ring.Leaving, _options.TargetNVal, _self);
        if (!ReferenceEquals(ring, _ring))
            Adopt(ring, changed ? $"claim over {claimNodes.Count} nodes" : "transfers completed");
        _reports.Clear();
        _leaveRequests.Clear();
        _rejoinRequests.Clear();
    }

    /// <summary>
    /// Merges the ring received into ours (no claim made elsewhere is lost; every node merging the
    /// same rings gets the same ring); a sender whose ring lacked something of ours gets the merge back.
    /// </summary>
    private void OnGossip(RingGossip gossip)
    {
        if (_selfUp && !_ringFromCluster && FromUpPeer())
            _ringFromCluster = true;
        if (_ring is null && _startedEmpty && gossip.Ring.HasAdopted(_self))
        {
            _dataLost = true;
            Log.Warning($"this node started without a ring, but the cluster's ring shows it has been a member: its data was lost or wiped; the vnodes it owns fill themselves from their neighbours");
        }
        var merged = (_ring is null ? gossip.Ring : Ring.Merge(_ring, gossip.Ring)).WithSeen(_self);
        if (_ring is null || !merged.Equals(_ring))
            Adopt(merged, null); // pushed to every member, the sender too
        else if (!merged.Equals(gossip.Ring) && !Sender.Equals(Context.System.DeadLetters))
            Sender.Tell(new RingGossip(_ring), Self);
        UpdateServing();
    }

    private void OnTransferComplete(TransferComplete report)
    {
        _reports[report.Partition] = report;
        var state = ClusterExt.Get(Context.System).State;
        if (state.Leader?.ToString() == _self && _ring is not null && _ring.CompleteTransfer(report.Partition, report.From, report.To, _self) is { } next)
        {
            _reports.Remove(report.Partition);
            Adopt(next, $"partition {report.Partition} moved to {report.To}");
        }
    }

    private void OnLeaveRing(LeaveRing leave)
    {
        if (leave.Node == _self)
            _selfLeaving = true;
        _rejoinRequests.Remove(leave.Node);
        _leaveRequests.Add(leave.Node);
    }

    private void OnRejoinRing(RejoinRing rejoin)
    {
        if (!_leaveRequests.Contains(rejoin.Node))
            _rejoinRequests.Add(rejoin.Node);
    }

    private void Adopt(Ring ring, string? why)
    {
        ring = ring.WithSeen(_self); // what every member has seen tells old owners when they may delete
        _ring = ring;
        try
        {
            RingFile.Write(FilePath, ring);
        }
        catch (IOException e)
        {
            Log.Error(e, $"could not persist {ring}: {e.Message}");
        }
        if (why is not null)
            Log.Info($"{ring}: {why}");
        Context.System.EventStream.Publish(new RingChanged(ring) { DataLost = _dataLost });
        foreach (var peer in Peers(ClusterExt.Get(Context.System).State))
            RingManagerOn(peer).Tell(new RingGossip(ring), Self);
    }
}
