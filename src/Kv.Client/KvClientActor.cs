using System.Text;
using Kv.Actors;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.Client;

namespace Kv.Client;

/// <summary>
/// The client's actor API (<see cref="Get"/>, <see cref="Put"/>, <see cref="Delete"/>,
/// <see cref="AdminRequest"/>) and the keeper of its routing. It never joins the cluster: it finds
/// it through Akka's <see cref="ClusterClient"/> (the receptionist on every node; contact points
/// are its initial contacts) whenever it has no ring or no node answers, asks
/// every known node for its ring once per refresh interval (that is also its liveness check: a
/// node that misses <see cref="KvClientOptions.MissedRefreshesBeforeDown"/> in a row is marked
/// down), learns the nodes from the ring, and publishes a <see cref="ClientRouting"/> snapshot on
/// every change. Requests run as <see cref="ClientCall"/> tasks whose result is piped back to
/// the sender; <see cref="KvClient"/> runs them on the same snapshot without this actor's hop.
/// Until it has a ring it is connecting: requests (and <see cref="AwaitReady"/>) are stashed and
/// run when the first ring arrives, or fail with <see cref="KvUnavailableException"/> once
/// <see cref="KvClientOptions.ConnectTimeout"/> has passed.
/// </summary>
public sealed class KvClientActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private readonly KvClientOptions _options;
    private readonly List<string> _contacts;
    private readonly Dictionary<string, ClientNode> _nodes = new(StringComparer.Ordinal);
    private readonly RoutingState _state;
    private Ring? _ring;
    private IReadOnlyList<string> _consistent = [];

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Akka's stash: requests that came before the first ring.</summary>
    public IStash Stash { get; set; } = null!;
    private IActorRef? _clusterClient;
    private DateTime _readyDeadline;

    private sealed record Refresh
    {
        public static readonly Refresh Instance = new();
    }

    private sealed record Pong(string? Node, Ring? Ring, IReadOnlyList<string> ConsistentNamespaces);

    private sealed record Missed(string Node);

    public KvClientActor(KvClientOptions options)
        : this(options, new RoutingState())
    {
    }

    public KvClientActor(KvClientOptions options, RoutingState state)
    {
        _options = options;
        _state = state;
        _contacts = options.ContactPoints.Select(c => NodeAddress(c, options.SystemName, KvClient.ProtocolOf(options))).ToList();
        if (_contacts.Count == 0)
            throw new ArgumentException("at least one contact point is needed");
        Connecting();
    }

    private void Routing()
    {
        Receive<Refresh>(_ => OnRefresh());
        Receive<Pong>(OnPong);
        Receive<CurrentRing>(r => OnPong(new Pong(null, r.Ring, r.ConsistentNamespaces))); // through the cluster client
        Receive<Missed>(OnMissed);
    }

    /// <summary>No ring yet: everything else waits in the stash.</summary>
    private void Connecting()
    {
        Routing();
        ReceiveAny(_ => Stash.Stash());
    }

    private void Ready()
    {
        Routing();
        Receive<AwaitReady>(_ => Sender.Tell(new ClientReady(_nodes.Keys.Order(StringComparer.Ordinal).ToList(), _ring!.Version), Self));
        Receive<Get>(g => Run(ClientCall.For(g, _options)));
        Receive<Put>(p => Run(ClientCall.For(p, _options)));
        Receive<Delete>(d => Run(ClientCall.For(d, _options)));
        Receive<Exists>(e => Run(ClientCall.For(e, _options)));
        Receive<AdminRequest>(a => Run(ClientCall.For(a)));
    }

    /// <summary>"host:port" or a full address -> the node's address as the ring names it.</summary>
    public static string NodeAddress(string contact, string systemName, string protocol = "akka.tcp")
    {
        if (contact.Contains("://", StringComparison.Ordinal))
            return Address.Parse(contact).ToString();
        return Address.Parse($"{protocol}://{systemName}@{contact}").ToString();
    }

    protected override void PreStart()
    {
        foreach (string c in _contacts)
            _nodes.TryAdd(c, new ClientNode(Context.System, c, _state.Session));
        Publish();
        _readyDeadline = DateTime.UtcNow + _options.ConnectTimeout;
        var contacts = _contacts.Select(c => ActorPath.Parse(c + "/system/receptionist")).ToImmutableHashSet();
        _clusterClient = Context.ActorOf(ClusterClient.Props(ClusterClientSettings.Create(Context.System).WithInitialContacts(contacts)), "cluster-client");
        Timers.StartPeriodicTimer(Refresh.Instance, Refresh.Instance, TimeSpan.Zero, _options.RefreshInterval);
    }

    private void Run(ClientCall call)
    {
        if (call.Error is not null)
            Sender.Tell(new KvFailure(call.Error), Self);
        else
            call.RunAsync(_state.Current, _options).PipeTo(Sender, Self);
    }

    private void OnRefresh()
    {
        var self = Self;
        // Discovery through the receptionists: at the start, and whenever every known node is down.
        if (_ring is null || _nodes.Values.All(n => n.IsDown))
            _clusterClient?.Tell(new ClusterClient.Send("/user/" + KvPaths.Admin, GetRing.Instance, localAffinity: false), Self);
        foreach (var (address, node) in _nodes)
        {
            node.Admin
                .Ask<CurrentRing>(GetRing.Instance, _options.RefreshInterval)
                .ContinueWith(t => self.Tell(t.IsCompletedSuccessfully ? new Pong(address, t.Result.Ring, t.Result.ConsistentNamespaces) : new Missed(address), ActorRefs.NoSender), TaskScheduler.Default);
        }
        if (_ring is null && DateTime.UtcNow > _readyDeadline)
        {
            foreach (var waiting in Stash.ClearStash())
                waiting.Sender.Tell(new KvFailure(new KvUnavailableException($"no contact point answered within {_options.ConnectTimeout.TotalSeconds:0} s ({string.Join(", ", _contacts)})")), Self);
        }
    }

    private void OnPong(Pong pong)
    {
        bool changed = false;
        // The consistent namespaces, as the nodes' configuration says (the same on every node):
        // any node's non-empty answer is taken, and kept.
        if (pong.ConsistentNamespaces.Count > 0 && !pong.ConsistentNamespaces.SequenceEqual(_consistent))
        {
            _consistent = pong.ConsistentNamespaces;
            changed = true;
        }
        if (pong.Node is not null)
        {
            if (!_nodes.TryGetValue(pong.Node, out var answered))
                return;
            changed = answered.IsDown;
            answered.Misses = 0;
            answered.MarkUp();
        }
        if (pong.Ring is not null && (_ring is null || pong.Ring.Supersedes(_ring)))
        {
            if (_ring is null)
            {
                Become(Ready);
                Stash.UnstashAll(); // after this message: the routing below is published first
            }
            _ring = pong.Ring;
            foreach (string member in _ring.Members)
                _nodes.TryAdd(member, new ClientNode(Context.System, member, _state.Session));
            // Nodes that left the ring (and are not contact points) are forgotten.
            foreach (string gone in _nodes.Keys.Where(n => !_ring.Members.Contains(n) && !_contacts.Contains(n)).ToList())
            {
                _nodes[gone].MarkDown();
                _nodes.Remove(gone);
            }
            changed = true;
        }
        if (changed)
            Publish();
    }

    private void OnMissed(Missed missed)
    {
        if (_nodes.TryGetValue(missed.Node, out var node) && ++node.Misses >= _options.MissedRefreshesBeforeDown && !node.IsDown)
        {
            node.MarkDown();
            Publish();
        }
    }

    private void Publish() =>
        _state.Current = new ClientRouting(_ring, _nodes.Keys.Order(StringComparer.Ordinal).ToList(), _contacts, new Dictionary<string, ClientNode>(_nodes, StringComparer.Ordinal), _consistent);
}
