using Kv.Cluster.Actor;
using Kv.Cluster.Event;

namespace Kv.Cluster.Cluster;

/// <summary>
/// Cluster membership of one actor system (Akka's <c>Cluster.Get(system)</c>): join, leave, down,
/// subscribe to member and reachability events, read the current state. Needs remoting.
/// </summary>
public sealed class Cluster
{
    private readonly ActorSystem _system;
    private readonly IActorRef _daemon;
    private readonly Lock _lock = new();
    private readonly List<Action> _onUp = [];
    private readonly List<Action> _onRemoved = [];
    private volatile CurrentClusterState _state = CurrentClusterState.Empty;
    private volatile Member? _selfMember;
    private volatile HashSet<UniqueAddress> _seemsDead = [];
    private bool _upFired;
    private bool _removedFired;
    private bool _leaving;

    private Cluster(ActorSystem system)
    {
        if (system.Transport is null)
            throw new InvalidOperationException("the cluster needs remoting: set ActorSystemOptions.Remote");
        _system = system;
        Options = system.Options.Cluster ?? new ClusterOptions();
        Options.Validate();
        SelfUniqueAddress = new UniqueAddress(system.Address, system.Uid);
        Log = system.CreateLogger("Cluster(" + system.Address + ")");
        _daemon = system.SystemActorOf(Props.Create(() => new ClusterCoreDaemon(this)), "cluster");
        var cs = CoordinatedShutdown.Get(system);
        cs.AddTask(CoordinatedShutdown.PhaseClusterLeave, "leave", LeaveOnShutdownAsync);
        system.WhenTerminated.ContinueWith(_ => FireRemoved(), TaskScheduler.Default);
    }

    /// <summary>The cluster of <paramref name="system"/> (started on first use).</summary>
    public static Cluster Get(ActorSystem system) => system.GetOrAddExtension(static s => new Cluster(s));

    /// <summary>The settings.</summary>
    public ClusterOptions Options { get; }

    /// <summary>This incarnation.</summary>
    public UniqueAddress SelfUniqueAddress { get; }

    /// <summary>This node's address.</summary>
    public Address SelfAddress => SelfUniqueAddress.Address;

    /// <summary>This node as a member (null before it joined).</summary>
    public Member? SelfMember => _selfMember;

    /// <summary>The latest membership snapshot.</summary>
    public CurrentClusterState State => _state;

    internal ILoggingAdapter Log { get; }

    /// <summary>Joins the cluster <paramref name="address"/> belongs to (or forms one if it is this node).</summary>
    public void Join(Address address) => _daemon.Tell(new ClusterCommands.JoinTo(address), null);

    /// <summary>Joins through seed nodes; only the first seed may form a new cluster, and only if no other seed answers.</summary>
    public void JoinSeedNodes(IEnumerable<Address> seeds) => _daemon.Tell(new ClusterCommands.JoinSeedNodes(seeds.ToList()), null);

    /// <summary>Asks a member to leave gracefully (Leaving -> Exiting -> Removed).</summary>
    public void Leave(Address address)
    {
        if (address.Equals(SelfAddress))
            _leaving = true;
        _daemon.Tell(new ClusterCommands.Leave(address), null);
    }

    /// <summary>Marks a member Down (it will be removed; it shuts itself down when it hears).</summary>
    public void Down(Address address) => _daemon.Tell(new ClusterCommands.Down(address), null);

    /// <summary>
    /// Subscribes <paramref name="subscriber"/> to cluster events of the given types. It first gets the
    /// current state: as events (<paramref name="initialStateAsEvents"/>) or as one <see cref="CurrentClusterState"/>.
    /// </summary>
    public void Subscribe(IActorRef subscriber, bool initialStateAsEvents, params Type[] to) =>
        _daemon.Tell(new ClusterCommands.Subscribe(subscriber, initialStateAsEvents, to.Length == 0 ? [typeof(ClusterDomainEvent)] : to), null);

    /// <summary>Stops the subscription.</summary>
    public void Unsubscribe(IActorRef subscriber) => _daemon.Tell(new ClusterCommands.Unsubscribe(subscriber), null);

    /// <summary>Runs <paramref name="callback"/> when this node becomes Up (at once if it is).</summary>
    public void RegisterOnMemberUp(Action callback)
    {
        lock (_lock)
        {
            if (!_upFired)
            {
                _onUp.Add(callback);
                return;
            }
        }
        callback();
    }

    /// <summary>Runs <paramref name="callback"/> when this node is removed or its system stops.</summary>
    public void RegisterOnMemberRemoved(Action callback)
    {
        lock (_lock)
        {
            if (!_removedFired)
            {
                _onRemoved.Add(callback);
                return;
            }
        }
        callback();
    }

    internal void SetState(CurrentClusterState state, Member? self)
    {
        _state = state;
        var previous = _selfMember;
        _selfMember = self;
        if (self is { Status: MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Exiting })
            FireUp();
        if (self is null && previous is not null)
            FireRemoved();
        if (self is { Status: MemberStatus.Leaving or MemberStatus.Exiting })
            _leaving = true;
    }

    internal void SetLiveness(HashSet<UniqueAddress> seemsDead) => _seemsDead = seemsDead;

    /// <summary>The failure detector gave up on it, or remoting quarantined that incarnation (a new uid appeared at its address).</summary>
    internal bool SeemsDead(UniqueAddress node) => _seemsDead.Contains(node) || _system.Transport!.IsQuarantined(node.Uid);

    private void FireUp() => Fire(ref _upFired, _onUp);

    private void FireRemoved() => Fire(ref _removedFired, _onRemoved);

    private void Fire(ref bool fired, List<Action> pending)
    {
        List<Action> callbacks;
        lock (_lock)
        {
            if (fired)
                return;
            fired = true;
            callbacks = [.. pending];
            pending.Clear();
        }
        foreach (var c in callbacks)
            Run(c);
    }

    private void Run(Action callback)
    {
        try
        {
            callback();
        }
        catch (Exception e)
        {
            Log.Error(e, $"cluster callback failed: {e.Message}");
        }
    }

    /// <summary>This node was downed or removed (or finished leaving): stop the system with a reason that says which.</summary>
    internal void ShutdownSelf()
    {
        var reason = _leaving ? ShutdownReason.ClusterLeaving : ShutdownReason.ClusterDowning;
        Log.Info($"shutting down the actor system: {reason.Name}");
        FireRemoved();
        _ = CoordinatedShutdown.Get(_system).Run(reason);
    }

    private async Task LeaveOnShutdownAsync(CancellationToken ct)
    {
        var self = _selfMember;
        if (self is null || self.Status is MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting)
            return;
        _leaving = true;
        Leave(SelfAddress);
        // Wait (up to the phase timeout) until the leader has moved us to Exiting or removed us.
        while (!ct.IsCancellationRequested && _selfMember is { Status: not (MemberStatus.Exiting or MemberStatus.Down) })
            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
    }
}
