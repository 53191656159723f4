using Akka.Actor;
using Akka.Event;
using Kv.Actors.Ring;

namespace Kv.Actors.Aae;

/// <summary>
/// The node's Merkle-tree sync actor (active anti-entropy, at /user/kv-aae). Every
/// ExchangeInterval, while the node serves, it starts an <see cref="AaeExchange"/> for the next
/// pair of vnodes (round robin) that share a preference list, at most Concurrency at once. The
/// pairs are this node's vnodes with each other replica of each preference list they are in; a
/// pair is exchanged by the owner of its lower partition, so once per round across the cluster.
/// It also hands out tree-build slots to the vnodes (one build at a time per node, each read at
/// most BuildBytesPerSecond), and keeps the last exchange of each pair and each vnode's tree age
/// for <c>kv cluster aae</c>.
/// </summary>
public sealed class AaeSync : RingFollower, IWithTimers
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private readonly AaeOptions _options;
    private readonly string _self;
    private readonly IReadOnlyList<int> _nVals;
    private readonly Dictionary<IActorRef, AaePair> _running = [];
    private readonly Dictionary<AaePair, AaeExchangeInfo> _last = [];
    private readonly Dictionary<int, AaeTreeInfo> _trees = [];
    private readonly LinkedList<(int Partition, IActorRef Vnode)> _buildQueue = new();
    private (int Partition, IActorRef Vnode)? _building;
    private List<AaePair> _pairs = [];
    private Ring.Ring? _pairsOf;
    private int _next;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    /// <param name="options">The anti-entropy settings.</param>
    /// <param name="self">This node's address.</param>
    /// <param name="nVals">The n_val of every namespace (the preference-list lengths that occur).</param>
    public AaeSync(AaeOptions options, string self, IEnumerable<int> nVals)
    {
        (_options, _self) = (options, self);
        _nVals = nVals.Distinct().Order().ToList();
        Receive<Tick>(_ => OnTick());
        Receive<ExchangeFinished>(OnExchangeFinished);
        Receive<RequestBuildSlot>(r =>
        {
            if (_building is { } b && b.Vnode.Equals(Sender))
                _building = null; // it was restarted while it built: that build is gone
            foreach (var queued in _buildQueue.Where(q => q.Vnode.Equals(Sender)).ToList())
                _buildQueue.Remove(queued);
            _buildQueue.AddLast((r.Partition, Sender));
            Context.Watch(Sender);
            _trees[r.Partition] = (_trees.GetValueOrDefault(r.Partition) ?? new AaeTreeInfo(r.Partition, 0, 0, false)) with { Building = true };
            GrantNext();
        });
        Receive<BuildFinished>(OnBuildFinished);
        Receive<GetAaeStatus>(_ => Sender.Tell(Status(), Self));
        Receive<Terminated>(t =>
        {
            if (_running.Remove(t.ActorRef, out var pair) && !_last.ContainsKey(pair))
                _last[pair] = Info(pair, 0, "stopped");
            foreach (var queued in _buildQueue.Where(q => q.Vnode.Equals(t.ActorRef)).ToList())
                _buildQueue.Remove(queued);
            if (_building is { } b && b.Vnode.Equals(t.ActorRef))
            {
                _building = null;
                _trees.Remove(b.Partition);
                GrantNext();
            }
        });
    }

    protected override void PreStart()
    {
        base.PreStart();
        if (_options.Enabled)
            Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _options.ExchangeInterval);
    }

    private void GrantNext()
    {
        if (_building is not null || _buildQueue.First is not { } first)
            return;
        _buildQueue.RemoveFirst();
        _building = first.Value;
        first.Value.Vnode.Tell(BuildSlotGranted.Instance, Self);
    }

    private void OnBuildFinished(BuildFinished done)
    {
        if (_building is { } b && b.Vnode.Equals(Sender))
            _building = null;
        if (done.Error is null)
            _trees[done.Partition] = new AaeTreeInfo(done.Partition, done.BuiltMs, done.Keys, false);
        else
        {
            Log.Warning($"vnode {done.Partition}: anti-entropy tree build failed: {done.Error}");
            if (_trees.TryGetValue(done.Partition, out var info))
                _trees[done.Partition] = info with { Building = false };
        }
        GrantNext();
    }

    private void OnTick()
    {
        if (!Serving || KnownRing is not { } ring)
            return;
        if (!ReferenceEquals(ring, _pairsOf))
        {
            _pairs = Pairs(ring);
            _pairsOf = ring;
            foreach (var gone in _trees.Keys.Where(p => p >= ring.Size || (ring.Owners[p] != _self && ring.Pending[p] != _self)).ToList())
                _trees.Remove(gone);
        }
        if (_running.Count >= _options.Concurrency || _pairs.Count == 0)
            return;
        var pair = _pairs[_next++ % _pairs.Count];
        if (_running.ContainsValue(pair))
            return;
        var local = KvPaths.Vnode(Context.System, _self, pair.Partition);
        var peer = KvPaths.Vnode(Context.System, pair.PeerNode, pair.PeerPartition);
        int maxKeys = _options.MaxKeysPerExchange;
        var exchange = Context.ActorOf(KvProps.Of(() => new AaeExchange(pair, local, peer, maxKeys)));
        Context.Watch(exchange);
        _running[exchange] = pair;
    }

    /// <summary>
    /// This node's exchange pairs: for every vnode it owns, every preference list (q, n) it is in,
    /// with every other partition of that list whose number is higher (the owner of the lower one starts it).
    /// </summary>
    private List<AaePair> Pairs(Ring.Ring ring)
    {
        var pairs = new List<AaePair>();
        int size = ring.Size;
        for (int p = 0; p < size; p++)
        {
            if (ring.Owners[p] != _self)
                continue;
            foreach (int n in _nVals)
            {
                for (int d = 0; d < Math.Min(n, size); d++)
                {
                    int q = ((p - d) % size + size) % size;
                    for (int j = 0; j < Math.Min(n, size); j++)
                    {
                        int peer = (q + j) % size;
                        if (peer != p && p < peer)
                            pairs.Add(new AaePair(p, ring.Owners[peer], peer, q, n));
                    }
                }
            }
        }
        return pairs;
    }

    private AaeExchangeInfo Info(AaePair pair, long repaired, string outcome) =>
        new(pair.Partition, pair.PeerNode, pair.PeerPartition, pair.Pref, pair.N, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), repaired,
            (_last.GetValueOrDefault(pair)?.TotalRepaired ?? 0) + repaired, outcome);

    private void OnExchangeFinished(ExchangeFinished done)
    {
        _running.Remove(Sender);
        _last[done.Pair] = Info(done.Pair, done.KeysRepaired, done.Outcome);
        Metrics.KvMetrics.For(Context.System).AaeExchanged(done.KeysRepaired, done.Outcome.StartsWith("failed", StringComparison.Ordinal));
    }

    private AaeStatus Status() => new(_self,
        _last.Values.OrderBy(e => e.Partition).ThenBy(e => e.PeerPartition).ThenBy(e => e.Pref).ToList(),
        _trees.Values.OrderBy(t => t.Partition).ToList());
}
