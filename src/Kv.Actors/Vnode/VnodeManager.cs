using System.Globalization;
using Kv.Actors.Ring;
using Akka.Actor;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// The node's vnodes (at /user/kv-vnodes): one <see cref="VnodeActor"/> child per partition this
/// node owns or is about to own in the ring, plus one per leftover data directory (which hands its
/// data to the owner and retires). All share one <see cref="StorageEnvironment"/>. It takes handoff
/// batches from other nodes and gives them to the right vnode (starting it if the ring says this
/// node is the partition's next owner), grants handoff slots (at most Concurrency sending at once),
/// and keeps the progress of every transfer for <see cref="GetHandoffStatus"/>.
/// </summary>
public sealed class VnodeManager : ReceiveActor
{
    private readonly KvNodeOptions _options;
    private readonly string _self;
    private readonly StorageEnvironment _environment;
    private readonly Dictionary<int, IActorRef> _vnodes = [];
    private readonly HashSet<int> _retired = [];
    private readonly Dictionary<int, HandoffProgress> _progress = [];
    private readonly HashSet<IActorRef> _slots = [];
    private readonly Queue<IActorRef> _waiting = new();
    private Ring.Ring? _ring;

    private sealed record StopRetired(int Partition);

    public VnodeManager(KvNodeOptions options, string selfNode, StorageEnvironment environment)
    {
        (_options, _self, _environment) = (options, selfNode, environment);
        Receive<RingChanged>(m => OnRing(m.Ring));
        Receive<HandoffBatch>(OnBatch);
        Receive<RequestHandoffSlot>(_ => OnRequestSlot());
        Receive<ReleaseHandoffSlot>(_ => ReleaseSlot(Sender));
        Receive<HandoffProgress>(p => _progress[p.Partition] = p);
        Receive<GetHandoffStatus>(_ => Sender.Tell(new HandoffStatus(_progress.Values.OrderBy(p => p.Partition).ToList(), _vnodes.Keys.Order().ToList(), _retired.Order().ToList()), Self));
        Receive<VnodeRetired>(r =>
        {
            _retired.Add(r.Partition);
            Context.System.Scheduler.ScheduleTellOnceCancelable(_options.Handoff.ForwardingGrace, Self, new StopRetired(r.Partition), Self);
        });
        Receive<StopRetired>(s =>
        {
            if (_retired.Contains(s.Partition) && _vnodes.TryGetValue(s.Partition, out var v))
                Context.Stop(v);
        });
        Receive<Terminated>(OnTerminated);
    }

    private string VnodesDirectory => Path.Combine(_options.DataDirectory, "vnodes");

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(RingChanged));
        // Partitions with data on disk start at once (their data must be served or handed off).
        Directory.CreateDirectory(VnodesDirectory);
        foreach (var dir in Directory.EnumerateDirectories(VnodesDirectory))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int p))
                Start(p);
        }
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private bool Wanted(int p) => _ring is not null && p < _ring.Size && (_ring.Owners[p] == _self || _ring.Pending[p] == _self);

    private int NValOf(string ns) => _options.PropsOf(ns).NVal;

    private int MaxNVal => _options.Namespaces.Values.Select(n => n.NVal).Append(Coordinators.NamespaceProps.Default.NVal).Max();

    private IActorRef Start(int p)
    {
        var storage = _options.Storage with { Environment = _environment };
        var vnode = Context.ActorOf(
            KvProps.Of(() => new VnodeActor(p, Path.Combine(VnodesDirectory, p.ToString(CultureInfo.InvariantCulture)), storage, _self, _options.Handoff,
                new ReapingOptions(_options.TombstoneGrace, _options.TombstoneSweepInterval, _options.ReapedClockRetention), NValOf, MaxNVal)),
            KvPaths.VnodeName(p));
        Context.Watch(vnode);
        _vnodes[p] = vnode;
        if (_ring is not null)
            vnode.Tell(new RingChanged(_ring), Self);
        return vnode;
    }

    private void OnRing(Ring.Ring ring)
    {
        if (_ring is not null && !ring.Supersedes(_ring))
            return;
        _ring = ring;
        for (int p = 0; p < ring.Size; p++)
        {
            if (Wanted(p) && !_vnodes.ContainsKey(p))
                Start(p);
            else if (Wanted(p) && _retired.Contains(p))
                Context.Stop(_vnodes[p]); // it comes back (fresh) when it has stopped
        }
        foreach (var vnode in _vnodes.Values)
            vnode.Tell(new RingChanged(ring), Self);
    }

    private void OnBatch(HandoffBatch batch)
    {
        if (_vnodes.TryGetValue(batch.Partition, out var vnode) && !_retired.Contains(batch.Partition))
        {
            vnode.Forward(batch);
            return;
        }
        if (Wanted(batch.Partition) && !_retired.Contains(batch.Partition))
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
            _retired.Remove(p);
            if (Wanted(p))
                Start(p);
            break;
        }
    }
}
