using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Scans;

/// <summary>
/// One page of a scan (an actor per request, started by the router): makes a coverage plan
/// (<see cref="ScanPlan"/>: one vnode per partition), asks each vnode of the plan for the keys of its
/// partitions in the range after the continuation key, and merges their sorted streams in key
/// order, asking a vnode for its next chunk only when its last one is used up (backpressure), until
/// the page holds <c>limit</c> live keys or about <see cref="ScanLimits.PageBytes"/>. Tombstones and
/// expired values are left out at the merge (<see cref="ScanLiveness"/>). The page's token
/// continues after the last key the merge looked at; none when every stream has ended.
/// <para>
/// By default each key comes from one replica (the vnode the plan chose for its partition). With
/// R set, each key of the page is then read at that quorum through the router (the same
/// <see cref="GetCoordinator"/> a get uses), and keys found deleted there are dropped.
/// </para>
/// <para>
/// A vnode that answers unsynced (still filling a partition it took over without data), fails, or
/// sends nothing within <see cref="ScanLimits.ChunkTimeout"/> is left out and the page is planned
/// again from the start with the ring as it is then (nothing of a page goes out before it is
/// complete, so a new plan cannot double or skip a key), at most <see cref="ScanLimits.MaxAttempts"/>
/// times within the scan's timeout.
/// </para>
/// </summary>
public sealed class ScanCoordinator : ReceiveActor, IWithTimers
{
    private readonly byte[] _ns;
    private readonly ScanRange _range;
    private readonly int _limit;
    private readonly byte[]? _after;
    private readonly NamespaceProps _props;
    private readonly int? _r;
    private readonly TimeSpan _timeout;
    private readonly long _ttlToleranceMs;
    private readonly IActorRef _replyTo;
    private Ring.Ring _ring;
    private readonly HashSet<(string Node, int Vnode)> _excluded = [];
    private readonly Dictionary<long, Stream> _streams = [];
    private readonly List<ScanItem> _page = [];
    private long _pageBytes;
    private byte[]? _lastKey;
    private int _attempt;
    private long _nextId = Random.Shared.NextInt64(1, long.MaxValue / 2);
    private string? _lastProblem;
    private bool _finished;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Stream(long id, ScanPlanGroup group)
    {
        public long Id { get; } = id;
        public ScanPlanGroup Group { get; } = group;
        public Queue<ScanEntry> Items { get; } = new();
        public bool Done { get; set; }
        public IActorRef? Cursor { get; set; }
        public bool Waiting { get; set; } = true; // the VnodeScan asks for the first chunk
        public long AskedAt { get; set; } = Environment.TickCount64;
    }

    private sealed class Deadline
    {
        public static readonly Deadline Instance = new();
    }

    private sealed class Check
    {
        public static readonly Check Instance = new();
    }

    private sealed class Replan
    {
        public static readonly Replan Instance = new();
    }

    private sealed record QuorumReadsDone(IReadOnlyList<ScanItem>? Items, string? Token, object? Failure);

    /// <param name="ns">The namespace.</param>
    /// <param name="range">The keys of the scan.</param>
    /// <param name="limit">Keys per page at most.</param>
    /// <param name="after">The last key of the page before (null: the first page).</param>
    /// <param name="props">The namespace's settings with the request's overrides.</param>
    /// <param name="r">A quorum read of each key of the page (null: one replica per partition).</param>
    /// <param name="timeout">The page's time, retries included.</param>
    /// <param name="ttlToleranceMs">kv.ttl.clock-skew-tolerance: a value counts as expired this long before its expiry.</param>
    /// <param name="ring">The ring of the first plan.</param>
    /// <param name="replyTo">Who gets the page.</param>
    public ScanCoordinator(byte[] ns, ScanRange range, int limit, byte[]? after, NamespaceProps props, int? r, TimeSpan timeout, long ttlToleranceMs, Ring.Ring ring, IActorRef replyTo)
    {
        (_ns, _range, _limit, _after, _props, _r, _timeout, _ttlToleranceMs, _ring, _replyTo) = (ns, range, limit, after, props, r, timeout, ttlToleranceMs, ring, replyTo);
        Receive<VnodeScanChunk>(OnChunk);
        Receive<Check>(_ => OnCheck());
        Receive<Deadline>(_ => Fail($"the scan timed out after {_timeout.TotalSeconds:0.#} s" + (_lastProblem is null ? "" : $" ({_lastProblem})")));
        Receive<Replan>(_ => Context.System.ActorSelection("/user/" + KvPaths.RingManager).Tell(GetRing.Instance, Self));
        Receive<CurrentRing>(m =>
        {
            if (m.Ring is { } newer && newer.Size == _ring.Size && newer.Supersedes(_ring))
                _ring = newer;
            Plan();
        });
        Receive<QuorumReadsDone>(OnQuorumReads);
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer(Deadline.Instance, Deadline.Instance, _timeout);
        Timers.StartPeriodicTimer(Check.Instance, Check.Instance, TimeSpan.FromMilliseconds(500));
        Plan();
    }

    protected override void PostStop() => StopStreams();

    /// <summary>Nodes a plan may use: Up (or leaving, still serving its partitions) members this node can reach.</summary>
    private static Func<string, bool> Usable(ActorSystem system)
    {
        var state = ClusterExt.Get(system).State;
        var unreachable = state.Unreachable.Select(m => m.Address.ToString()).ToHashSet(StringComparer.Ordinal);
        var up = state.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving).Select(m => m.Address.ToString()).ToHashSet(StringComparer.Ordinal);
        return node => up.Contains(node) && !unreachable.Contains(node);
    }

    private void Plan()
    {
        if (_finished)
            return;
        _attempt++;
        var (groups, uncovered) = ScanPlan.Make(_ring, _props.NVal, Usable(Context.System), _excluded, Random.Shared.Next(_ring.Size));
        if (uncovered is { } p)
        {
            Fail($"no replica of partition {p} can answer: its vnodes are on nodes that are down or unreachable, or still filling"
                + (_lastProblem is null ? "" : $" ({_lastProblem})"));
            return;
        }
        var (lower, upper) = _range.StorageBounds(_ns, _after);
        foreach (var group in groups)
        {
            // About this vnode's share of the page (its partitions' share of the ring) and some more:
            // a small page does not make every vnode send a full chunk; one that runs short is asked again.
            int chunkKeys = (int)Math.Clamp((long)_limit * group.Partitions.Count * 3 / (2 * _ring.Size) + 8, 1, Math.Min(ScanLimits.ChunkKeys, _limit));
            var stream = new Stream(_nextId++, group);
            _streams[stream.Id] = stream;
            KvPaths.Vnode(Context.System, group.Node, group.Vnode)
                .Tell(new VnodeScan(stream.Id, _ns, group.Partitions, _ring.Size, lower, upper, chunkKeys, ScanLimits.ChunkBytes), Self);
        }
    }

    private void OnChunk(VnodeScanChunk chunk)
    {
        if (!_streams.TryGetValue(chunk.ScanId, out var stream))
        {
            if (!chunk.Done)
                Sender.Tell(new VnodeScanNext(chunk.ScanId, true), Self); // a stream of an earlier plan
            return;
        }
        if (chunk.Error is not null || chunk.Unsynced)
        {
            _excluded.Add((stream.Group.Node, stream.Group.Vnode));
            Retry(chunk.Unsynced
                ? $"vnode {stream.Group.Vnode} on {stream.Group.Node} is still filling"
                : $"vnode {stream.Group.Vnode} on {stream.Group.Node}: {chunk.Error}");
            return;
        }
        stream.Cursor = Sender;
        stream.Waiting = false;
        foreach (var item in chunk.Items)
            stream.Items.Enqueue(item);
        stream.Done = chunk.Done;
        Pump();
    }

    /// <summary>Moves the smallest head of the streams to the page while every stream has one (or has ended).</summary>
    private void Pump()
    {
        long now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        while (!_finished)
        {
            if (_page.Count >= _limit || _pageBytes >= ScanLimits.PageBytes)
            {
                Finish(more: _streams.Values.Any(s => s.Items.Count > 0 || !s.Done));
                return;
            }
            Stream? min = null;
            bool waiting = false;
            foreach (var s in _streams.Values)
            {
                if (s.Items.Count == 0)
                {
                    if (!s.Done)
                    {
                        Ask(s);
                        waiting = true;
                    }
                    continue;
                }
                if (min is null || s.Items.Peek().Key.AsSpan().SequenceCompareTo(min.Items.Peek().Key) < 0)
                    min = s;
            }
            if (waiting)
                return; // the smallest key may be in a stream still to come
            if (min is null)
            {
                Finish(more: false);
                return;
            }
            var entry = min.Items.Dequeue();
            _lastKey = entry.Key;
            var obj = KvObjectCodec.Decode(entry.Object);
            if (_props.LastWriteWins && obj.Size > 1)
            {
                // As a get answers in a last_write_wins namespace: the newest value (a tombstone too), with the whole context.
                var winner = obj.Values.MaxBy(v => v.LastModifiedMs)!;
                obj = DvvSet<Sibling>.New(obj.Join(), winner);
            }
            if (ScanLiveness.AsShown(obj, now, _ttlToleranceMs) is { } shown)
            {
                _page.Add(new ScanItem(entry.Key, shown));
                _pageBytes += entry.Key.Length + entry.Object.Length;
            }
        }
    }

    private void Ask(Stream stream)
    {
        if (stream.Waiting || stream.Cursor is null)
            return;
        stream.Waiting = true;
        stream.AskedAt = Environment.TickCount64;
        stream.Cursor.Tell(new VnodeScanNext(stream.Id, false), Self);
    }

    private void OnCheck()
    {
        long now = Environment.TickCount64;
        foreach (var s in _streams.Values)
        {
            if (s.Waiting && now - s.AskedAt > ScanLimits.ChunkTimeout.TotalMilliseconds)
            {
                _excluded.Add((s.Group.Node, s.Group.Vnode));
                Retry($"vnode {s.Group.Vnode} on {s.Group.Node} sent nothing for {ScanLimits.ChunkTimeout.TotalSeconds:0} s");
                return;
            }
        }
    }

    /// <summary>Starts the page over with a new plan (after a short pause, with the newest ring), or gives up.</summary>
    private void Retry(string problem)
    {
        _lastProblem = problem;
        StopStreams();
        _page.Clear();
        _pageBytes = 0;
        _lastKey = null;
        if (_attempt >= ScanLimits.MaxAttempts)
        {
            Fail($"gave up after {_attempt} plans; last: {problem}");
            return;
        }
        Context.GetLogger().Info($"scan of {System.Text.Encoding.UTF8.GetString(_ns)}: planning the page again ({problem})");
        Timers.StartSingleTimer(Replan.Instance, Replan.Instance, TimeSpan.FromMilliseconds(200));
    }

    private void StopStreams()
    {
        foreach (var s in _streams.Values)
        {
            if (!s.Done && s.Cursor is not null)
                s.Cursor.Tell(new VnodeScanNext(s.Id, true), Self);
        }
        _streams.Clear();
    }

    private void Finish(bool more)
    {
        _finished = true;
        StopStreams();
        string? token = more && _lastKey is not null ? ScanToken.Encode(_ns, _range, _lastKey) : null;
        if (_r is not { } r || _page.Count == 0)
        {
            Reply(new ScanPage(_page.ToList(), token));
            return;
        }
        // A quorum read of each key through the router's get path; keys deleted there are dropped.
        var (router, ns, items, timeout) = (Context.Parent, _ns, _page.ToList(), _props.Timeout + TimeSpan.FromSeconds(2));
        var options = new RequestOptions { R = r, Timeout = _props.Timeout };
        Task.Run(async () =>
        {
            var results = new object[items.Count];
            using var gate = new SemaphoreSlim(ScanLimits.QuorumReadsInFlight);
            await Task.WhenAll(items.Select(async (item, i) =>
            {
                await gate.WaitAsync().ConfigureAwait(false);
                try
                {
                    results[i] = await router.Ask<object>(new KvGet(ns, item.Key, options), timeout).ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            })).ConfigureAwait(false);
            var page = new List<ScanItem>(items.Count);
            for (int i = 0; i < items.Count; i++)
            {
                switch (results[i])
                {
                    case GetSucceeded g:
                        page.Add(new ScanItem(items[i].Key, g.Object));
                        break;
                    case NotFound:
                        break;
                    default:
                        return new QuorumReadsDone(null, null, results[i]);
                }
            }
            return new QuorumReadsDone(page, token, null);
        }).PipeTo(Self, failure: e => new QuorumReadsDone(null, null, new RequestFailed($"quorum reads of the page failed: {e.Message}", FailureCode.Unavailable)));
    }

    private void OnQuorumReads(QuorumReadsDone done) =>
        Reply(done.Failure ?? new ScanPage(done.Items!, done.Token));

    private void Fail(string reason)
    {
        if (_finished && _r is null)
            return;
        Reply(new RequestFailed("scan: " + reason, FailureCode.Unavailable));
    }

    private void Reply(object result)
    {
        _finished = true;
        _replyTo.Tell(result, Self);
        Context.Stop(Self);
    }
}
