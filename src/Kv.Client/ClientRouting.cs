using Kv.Actors;
using Kv.Actors.Ring;
using Akka.Actor;

namespace Kv.Client;

/// <summary>
/// What the client knows about where to send requests, as one immutable snapshot made by
/// <see cref="KvClientActor"/> whenever the ring or a node's health changes: for every partition
/// the nodes to try in order (the partition's preference list first, healthy nodes before the ones
/// considered down), and for every node its router and admin refs and a token that is cancelled
/// when the client marks it down (so a request waiting on it moves on at once).
/// </summary>
public sealed class ClientRouting
{
    private readonly string[][] _byPartition;
    private readonly Dictionary<string, ClientNode> _nodes;

    private readonly IReadOnlyList<string> _consistent;

    internal ClientRouting(Ring? ring, IReadOnlyList<string> nodes, IReadOnlyList<string> contacts, Dictionary<string, ClientNode> refs, IReadOnlyList<string>? consistentNamespaces = null)
    {
        Ring = ring;
        _nodes = refs;
        _consistent = consistentNamespaces ?? [];
        Nodes = HealthyFirst(nodes);
        if (ring is null)
        {
            _byPartition = [];
            return;
        }
        _byPartition = new string[ring.Size][];
        for (int p = 0; p < ring.Size; p++)
        {
            var order = new List<string>(nodes.Count);
            for (int i = 0; i < ring.Size; i++)
            {
                string owner = ring.Owners[(p + i) % ring.Size];
                if (!order.Contains(owner))
                    order.Add(owner);
            }
            foreach (string n in nodes)
            {
                if (!order.Contains(n))
                    order.Add(n);
            }
            foreach (string c in contacts)
            {
                if (!order.Contains(c))
                    order.Add(c);
            }
            _byPartition[p] = HealthyFirst(order);
        }
    }

    /// <summary>The ring the client last learned (null before any node answered).</summary>
    public Ring? Ring { get; }

    /// <summary>Every known node, healthy ones first (admin requests go to them in this order).</summary>
    public IReadOnlyList<string> Nodes { get; }

    /// <summary>Nodes the client currently considers down.</summary>
    public IEnumerable<string> Down => _nodes.Where(n => n.Value.IsDown).Select(n => n.Key);

    /// <summary>
    /// Whether operations on <paramref name="ns"/> are linearizable (consistent = on), as the nodes
    /// last said: a write there is never sent a second time once it may have been delivered. When
    /// the default namespace is consistent ("*") every namespace is taken to be (at worst a write
    /// that timed out is reported indeterminate rather than retried).
    /// </summary>
    public bool IsConsistent(string ns) => _consistent.Contains(ns) || _consistent.Contains("*");

    /// <summary>Nodes to try for a key, in order.</summary>
    public IReadOnlyList<string> CandidatesFor(ReadOnlySpan<byte> ns, ReadOnlySpan<byte> key) =>
        Ring is null || Nodes.Count == 1 ? Nodes : _byPartition[KeyHash.PartitionOf(ns, key, Ring.Size)]; // (one node: no key to hash)

    internal ClientNode Node(string node) => _nodes[node];

    internal bool IsDown(string node) => _nodes.TryGetValue(node, out var n) && n.IsDown;

    private string[] HealthyFirst(IEnumerable<string> order)
    {
        var list = order.ToList();
        return [.. list.Where(n => !IsDown(n)), .. list.Where(IsDown)];
    }
}

/// <summary>One node as the client sees it: refs to its router and admin actors, and whether it is considered down.</summary>
internal sealed class ClientNode
{
    private volatile CancellationTokenSource _down = new();

    public ClientNode(ActorSystem system, string address, ClientSession session)
    {
        System = system;
        Router = KvPaths.On(system, address, KvPaths.Router);
        Admin = KvPaths.On(system, address, KvPaths.Admin);
        _session = session;
    }

    private readonly ClientSession _session;

    /// <summary>The client's actor system (requests' reply refs live there).</summary>
    public ActorSystem System { get; }

    public IActorRef Router { get; }

    public IActorRef Admin { get; }

    /// <summary>A request with the client's login token around it (<see cref="ClientSession"/>).</summary>
    public object Wrap(object message) => _session.Wrap(message);

    public int Misses { get; set; }

    public bool IsDown => _down.IsCancellationRequested;

    /// <summary>Cancelled when the node is marked down; a new one once it answers again.</summary>
    public CancellationToken DownToken => _down.Token;

    public void MarkDown()
    {
        if (!_down.IsCancellationRequested)
            _down.Cancel();
    }

    public void MarkUp()
    {
        if (_down.IsCancellationRequested)
            _down = new CancellationTokenSource();
    }
}

/// <summary>The routing snapshot the client actor publishes and the requests read.</summary>
public sealed class RoutingState
{
    private volatile ClientRouting? _current;

    /// <summary>The client's login (token), shared by its actor and its Task facade.</summary>
    public ClientSession Session { get; } = new();

    public ClientRouting Current
    {
        get => _current ?? throw new InvalidOperationException("the client has not started");
        set => _current = value;
    }
}
