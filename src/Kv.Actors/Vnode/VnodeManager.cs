using System.Globalization;
using Kv.Actors.Ring;
using Akka.Actor;
using Akka.Event;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// The node's vnodes (at /user/kv-vnodes): one <see cref="VnodeActor"/> child per partition this
/// node owns or is about to own in the ring, plus one per leftover data directory (which hands its
/// data to the owner and retires). All share one <see cref="StorageEnvironment"/>. It takes handoff
/// batches from other nodes and gives them to the right vnode (starting it if the ring says this
/// node is the partition's next owner), grants handoff slots (at most Concurrency sending at once),
/// and keeps the progress of every transfer for <see cref="GetHandoffStatus"/>.
/// <para>
/// It supervises its vnodes: a vnode that throws while it runs is restarted (Akka's default
/// decision), at most 10 times a minute; one that cannot start (its engine does not open: a
/// damaged or unreadable directory) or fails more often is stopped, and started again after a
/// pause that doubles with each failure in a row (1 s up to 1 min), with an error line each time,
/// never in a tight loop. Meanwhile the partition's requests go unanswered on this node and its
/// replicas elsewhere serve them.
/// </para>
/// </summary>
public sealed class VnodeManager : ReceiveActor, IWithTimers
{
    private readonly KvNodeOptions _options;
    private readonly string _self;
    private readonly StorageEnvironment _environment;
    private readonly Dictionary<int, IActorRef> _vnodes = [];
    private readonly HashSet<int> _retired = [];
    private readonly Dictionary<(int Partition, string Target), HandoffProgress> _progress = [];
    private bool _dataLost; // this node's data was lost or wiped (see RingChanged.DataLost)
    private readonly HashSet<IActorRef> _slots = [];
    private readonly Queue<IActorRef> _waiting = new();
    private Ring.Ring? _ring;

    private sealed record StopRetired(int Partition);

    private sealed record RetryStart(int Partition);

    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastRetry = TimeSpan.FromMinutes(1);

    private readonly ILoggingAdapter Log = Context.GetLogger();
    private readonly HashSet<int> _stopping = []; // stopped by this manager (retired, or wanted again fresh): not failures
    private readonly Dictionary<int, (int InARow, DateTime Last)> _failures = [];
    private readonly HashSet<int> _waitingToRetry = [];

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    public VnodeManager(KvNodeOptions options, string selfNode, StorageEnvironment environment)
    {
        (_options, _self, _environment) = (options, selfNode, environment);
        Receive<RingChanged>(m =>
        {
            _dataLost |= m.DataLost;
            OnRing(m.Ring);
        });
        Receive<CurrentRing>(m =>
        {
            _dataLost |= m.DataLost;
            if (m.Ring is not null)
                OnRing(m.Ring);
        });
        Receive<HandoffBatch>(OnBatch);
        Receive<RequestHandoffSlot>(_ => OnRequestSlot());
        Receive<ReleaseHandoffSlot>(_ => ReleaseSlot(Sender));
        Receive<HandoffProgress>(p =>
        {
            // The latest transfer of each partition (a new transfer replaces the last one), and the
            // fills it is sending now (an ended fill goes).
            if (p.Target.Contains(", filling partition ", StringComparison.Ordinal))
            {
                if (p.State == HandoffState.Done)
                {
                    _progress.Remove((p.Partition, p.Target));
                    return;
                }
            }
            else
            {
                foreach (var old in _progress.Keys.Where(k => k.Partition == p.Partition && !k.Target.Contains(", filling partition ", StringComparison.Ordinal)).ToList())
                    _progress.Remove(old);
            }
            _progress[(p.Partition, p.Target)] = p;
        });
        Receive<GetHandoffStatus>(_ => Sender.Tell(new HandoffStatus(_progress.Values.OrderBy(p => p.Partition).ThenBy(p => p.Target, StringComparer.Ordinal).ToList(), _vnodes.Keys.Order().ToList(), _retired.Order().ToList()), Self));
        Receive<VnodeRetired>(r =>
        {
            _retired.Add(r.Partition);
            Timers.StartSingleTimer(new StopRetired(r.Partition), new StopRetired(r.Partition), _options.Handoff.ForwardingGrace);
        });
        Receive<StopRetired>(s =>
        {
            if (_retired.Contains(s.Partition) && _vnodes.TryGetValue(s.Partition, out var v))
                StopVnode(s.Partition, v);
        });
        Receive<RetryStart>(r =>
        {
            _waitingToRetry.Remove(r.Partition);
            if (Wanted(r.Partition) && !_vnodes.ContainsKey(r.Partition))
                Start(r.Partition);
        });
        Receive<Terminated>(OnTerminated);
    }

    private string VnodesDirectory => Path.Combine(_options.DataDirectory, "vnodes");

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(RingChanged));
        // The ring manager publishes the ring it stored when it starts, maybe before this actor
        // subscribed: ask for it (without a ring, a vnode that failed would never be started again).
        Context.System.ActorSelection("/user/" + KvPaths.RingManager).Tell(GetRing.Instance, Self);
        // Partitions with data on disk start at once (their data must be served or handed off).
        Directory.CreateDirectory(VnodesDirectory);
        foreach (var dir in Directory.EnumerateDirectories(VnodesDirectory))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int p))
                Start(p);
        }
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(10, TimeSpan.FromMinutes(1), Akka.Actor.SupervisorStrategy.DefaultDecider);

    private void StopVnode(int partition, IActorRef vnode)
    {
        _stopping.Add(partition);
        Context.Stop(vnode);
    }

    /// <summary>A vnode stopped without being asked (it could not start, or failed too often): start it again later.</summary>
    private void Failed(int partition)
    {
        var now = DateTime.UtcNow;
        int inARow = _failures.TryGetValue(partition, out var f) && now - f.Last < TimeSpan.FromMinutes(5) ? f.InARow + 1 : 1;
        _failures[partition] = (inARow, now);
        var delay = TimeSpan.FromTicks(Math.Min(LastRetry.Ticks, FirstRetry.Ticks << Math.Min(inARow - 1, 16)));
        Log.Error($"vnode {partition}: stopped after a failure (the error is logged above); starting it again in {delay.TotalSeconds:0.#} s ({inARow} in a row)");
        _waitingToRetry.Add(partition);
        Timers.StartSingleTimer(new RetryStart(partition), new RetryStart(partition), delay);
    }

    private bool Wanted(int p) => _ring is not null && p < _ring.Size && (_ring.Owners[p] == _self || _ring.Pending[p] == _self);

    private int NValOf(string ns) => _options.PropsOf(ns).NVal;

    private int MaxNVal => _options.Namespaces.Values.Select(n => n.NVal).Append(Coordinators.NamespaceProps.Default.NVal).Max();

    private IActorRef Start(int p)
    {
        var storage = _options.Storage with { Environment = _environment };
        var vnode = Context.ActorOf(
            KvProps.Of(() => new VnodeActor(p, Path.Combine(VnodesDirectory, p.ToString(CultureInfo.InvariantCulture)), storage, _self, _options.Handoff,
                new ReapingOptions(_options.TombstoneGrace, _options.TombstoneSweepInterval, _options.ReapedClockRetention) { TtlClockSkewTolerance = _options.TtlClockSkewTolerance }, NValOf, MaxNVal, _options.Aae)),
            KvPaths.VnodeName(p));
        Context.Watch(vnode);
        _vnodes[p] = vnode;
        Metrics.KvMetrics.For(Context.System).VnodeStarted(p, vnode);
        if (_ring is not null)
            vnode.Tell(new RingChanged(_ring) { DataLost = _dataLost }, Self);
        return vnode;
    }

    private void OnRing(Ring.Ring ring)
    {
        if (_ring is not null && !ring.Supersedes(_ring))
            return;
        _ring = ring;
        for (int p = 0; p < ring.Size; p++)
        {
            if (Wanted(p) && !_vnodes.ContainsKey(p) && !_waitingToRetry.Contains(p))
                Start(p);
            else if (Wanted(p) && _retired.Contains(p))
                StopVnode(p, _vnodes[p]); // it comes back (fresh) when it has stopped
        }
        foreach (var vnode in _vnodes.Values)
            vnode.Tell(new RingChanged(ring) { DataLost = _dataLost }, Self);
    }

    private void OnBatch(HandoffBatch batch)
    {
        if (_vnodes.TryGetValue(batch.Partition, out var vnode) && !_retired.Contains(batch.Partition))
        {
            vnode.Forward(batch);
            return;
        }
        if (Wanted(batch.Partition) && !_retired.Contains(batch.Partition) && !_waitingToRetry.Contains(batch.Partition))
        {
            Start(batch.Partition).Forward(batch);
            return;
        }
        if (batch.Seq != HandoffBatch.Forwarded)
            Sender.Tell(new HandoffBatchAck(batch.Partition, batch.Seq, $"{_self} is not the next owner of partition {batch.Partition} (ring v{_ring?.Version ?? 0})"), Self);
    }

    private void OnRequestSlot()
    {
        Context.Watch(Sender);
        if (_slots.Count < _options.Handoff.Concurrency)
        {
            _slots.Add(Sender);
            Sender.Tell(HandoffSlotGranted.Instance, Self);
        }
        else
        {
            _waiting.Enqueue(Sender);
        }
    }

    private void ReleaseSlot(IActorRef sender)
    {
        if (!_slots.Remove(sender))
            return;
        while (_waiting.Count > 0 && _slots.Count < _options.Handoff.Concurrency)
        {
            var next = _waiting.Dequeue();
            if (_slots.Add(next))
                next.Tell(HandoffSlotGranted.Instance, Self);
        }
    }

    private void OnTerminated(Terminated t)
    {
        if (_waiting.Contains(t.ActorRef))
        {
            var rest = _waiting.Where(w => !w.Equals(t.ActorRef)).ToList();
            _waiting.Clear();
            rest.ForEach(_waiting.Enqueue);
        }
        ReleaseSlot(t.ActorRef);
        foreach (var (p, vnode) in _vnodes)
        {
            if (!vnode.Equals(t.ActorRef))
                continue;
            _vnodes.Remove(p);
            Metrics.KvMetrics.For(Context.System).VnodeStopped(p, vnode);
            _retired.Remove(p);
            if (!_stopping.Remove(p))
                Failed(p);
            else if (Wanted(p))
                Start(p);
            break;
        }
    }
}
