using System.Collections.Immutable;
using System.Text;
using Kv.Actors;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Cluster.Actor;

namespace Kv.Client;

/// <summary>
/// The client's actor API (<see cref="Get"/>, <see cref="Put"/>, <see cref="Delete"/>,
/// <see cref="AdminRequest"/>). It never joins the cluster: it asks every known node for its ring
/// once per refresh interval (that is also its liveness check), learns the nodes from the ring,
/// and starts one <see cref="ClientRequest"/> per request with the nodes of the key's preference
/// list first (so the request lands on a replica and is coordinated there) and nodes it
/// considers down last.
/// </summary>
public sealed class KvClientActor : ReceiveActor
{
    private readonly KvClientOptions _options;
    private readonly List<string> _contacts;
    private readonly Dictionary<string, int> _misses = new(StringComparer.Ordinal);
    private readonly NodeHealth _health = new();
    private readonly List<IActorRef> _waiting = [];
    private Ring? _ring;
    private long _requests;
    private ICancelable? _refresh;
    private DateTime _readyDeadline;

    private sealed record Refresh
    {
        public static readonly Refresh Instance = new();
    }

    private sealed record Pong(string Node, Ring? Ring);

    private sealed record Missed(string Node);

    public KvClientActor(KvClientOptions options)
    {
        _options = options;
        _contacts = options.ContactPoints.Select(c => NodeAddress(c, options.SystemName)).ToList();
        if (_contacts.Count == 0)
            throw new ArgumentException("at least one contact point is needed");
        foreach (string c in _contacts)
            _misses[c] = 0;
        Receive<Refresh>(_ => OnRefresh());
        Receive<Pong>(OnPong);
        Receive<Missed>(OnMissed);
        Receive<AwaitReady>(_ => OnAwaitReady());
        Receive<Get>(g => Start(g.Namespace, g.Key, 0, new KvGet(Utf8(g.Namespace), Utf8(g.Key), g.Options ?? RequestOptions.None)));
        Receive<Put>(p => Start(p.Namespace, p.Key, p.Value.Length,
            new KvPut(Utf8(p.Namespace), Utf8(p.Key), new Sibling(p.Value, p.ContentType, 0, false), (p.Context ?? CausalContext.Empty).Vector, p.Options ?? RequestOptions.None)));
        Receive<Delete>(d => Start(d.Namespace, d.Key, 0,
            new KvDelete(Utf8(d.Namespace), Utf8(d.Key), (d.Context ?? CausalContext.Empty).Vector, d.Options ?? RequestOptions.None)));
        Receive<AdminRequest>(a => Spawn(a.Message, Healthy(_misses.Keys.Order(StringComparer.Ordinal)), KvPaths.Admin, r => r));
    }

    /// <summary>"host:port" or a full address -> the node's address as the ring names it.</summary>
    public static string NodeAddress(string contact, string systemName)
    {
        if (contact.StartsWith(Address.Scheme + "://", StringComparison.Ordinal))
            return Address.Parse(contact).ToString();
        return Address.Parse($"{Address.Scheme}://{systemName}@{contact}").ToString();
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    protected override void PreStart()
    {
        _readyDeadline = DateTime.UtcNow + _options.ConnectTimeout;
        _refresh = Context.System.Scheduler.ScheduleTellRepeatedly(TimeSpan.Zero, _options.RefreshInterval, Self, Refresh.Instance, Self);
    }

    protected override void PostStop() => _refresh?.Cancel();

    private void OnRefresh()
    {
        var self = Self;
        foreach (string node in _misses.Keys.ToList())
        {
            KvPaths.On(Context.System, node, KvPaths.Admin)
                .Ask<CurrentRing>(GetRing.Instance, _options.RefreshInterval)
                .ContinueWith(t => self.Tell(t.IsCompletedSuccessfully ? new Pong(node, t.Result.Ring) : new Missed(node), ActorRefs.NoSender), TaskScheduler.Default);
        }
        if (_waiting.Count > 0 && DateTime.UtcNow > _readyDeadline)
        {
            foreach (var w in _waiting)
                w.Tell(new KvFailure(new KvUnavailableException($"no contact point answered within {_options.ConnectTimeout.TotalSeconds:0} s ({string.Join(", ", _contacts)})")), Self);
            _waiting.Clear();
        }
    }

    private void OnPong(Pong pong)
    {
        if (!_misses.ContainsKey(pong.Node))
            return;
        _misses[pong.Node] = 0;
        if (pong.Ring is not null && (_ring is null || pong.Ring.Supersedes(_ring)))
        {
            _ring = pong.Ring;
            foreach (string member in _ring.Members)
                _misses.TryAdd(member, 0);
            // Nodes that left the ring (and are not contact points) are forgotten.
            foreach (string gone in _misses.Keys.Where(n => !_ring.Members.Contains(n) && !_contacts.Contains(n)).ToList())
                _misses.Remove(gone);
        }
        Publish();
        if (_ring is not null)
        {
            foreach (var w in _waiting)
                w.Tell(new ClientReady(_misses.Keys.Order(StringComparer.Ordinal).ToList(), _ring.Version), Self);
            _waiting.Clear();
        }
    }

    private void OnMissed(Missed missed)
    {
        if (_misses.TryGetValue(missed.Node, out int n))
        {
            _misses[missed.Node] = n + 1;
            Publish();
        }
    }

    private void Publish() =>
        _health.Set(_misses.Where(kv => kv.Value >= _options.MissedRefreshesBeforeDown).Select(kv => kv.Key).ToImmutableHashSet(StringComparer.Ordinal));

    private void OnAwaitReady()
    {
        if (_ring is not null)
            Sender.Tell(new ClientReady(_misses.Keys.Order(StringComparer.Ordinal).ToList(), _ring.Version), Self);
        else
            _waiting.Add(Sender);
    }

    /// <summary>Healthy nodes first, in the given order, then the ones considered down.</summary>
    private List<string> Healthy(IEnumerable<string> nodes)
    {
        var list = nodes.Distinct(StringComparer.Ordinal).ToList();
        return [.. list.Where(n => !_health.IsDown(n)), .. list.Where(_health.IsDown)];
    }

    private void Start(string ns, string key, int valueBytes, object message)
    {
        var error = Replies.Check(ns, key, valueBytes, _options.MaxValueBytes);
        if (error is not null)
        {
            Sender.Tell(new KvFailure(error), Self);
            return;
        }
        IEnumerable<string> order = _ring is null
            ? _contacts
            : _ring.PreferenceList(Utf8(ns), Utf8(key), _ring.Size).Select(r => r.Node).Concat(_misses.Keys);
        Spawn(message, Healthy(order), KvPaths.Router, reply => Replies.Map(ns, key, reply));
    }

    private void Spawn(object message, List<string> candidates, string target, Func<object, object> map)
    {
        var replyTo = Sender;
        Context.ActorOf(Props.Create(() => new ClientRequest(message, candidates, target, replyTo, _options, _health, map)), "req-" + ++_requests);
    }
}
