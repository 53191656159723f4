using Kv.Actors.Hints;
using Kv.Actors.Vnode;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// The replica messages of one batch's per-key coordinators, gathered per remote node so that each
/// node gets one <see cref="ReplicaBatch"/> instead of one message per key. The per-key
/// coordinators (<see cref="GetCoordinator"/>, <see cref="PutCoordinator"/>, unchanged) are given
/// replica refs whose <see cref="ICanTell"/> is <see cref="For"/>: what they tell a remote replica
/// lands here (from their own threads, hence the lock). A node's envelope goes out when the
/// messages the batch coordinator announced for it (<see cref="Expect"/>: the first wave, e.g. every
/// read of the batch) have all arrived, when it reaches <see cref="BatchLimits.MaxMessageBytes"/>, or
/// when <see cref="Flush"/> runs (a short timer of the owner: later waves, replication and read
/// repair). Answers come back in <see cref="ReplicaBatchReply"/>s to the owner, which hands each to
/// its coordinator (<see cref="Deliver"/>).
/// </summary>
internal sealed class ReplicaOutbox(ActorSystem system, IActorRef owner, long batchId, long timeoutMs)
{
    /// <summary>How long a message waits for more of its wave when none is announced.</summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(2);

    /// <summary>How long an announced wave's messages wait at most for the rest of it.</summary>
    public static readonly TimeSpan Safety = TimeSpan.FromMilliseconds(20);

    /// <summary>The owner's flush timer message.</summary>
    public sealed class FlushDue
    {
        public static readonly FlushDue Instance = new();
    }

    private sealed class Pending
    {
        public List<ReplicaBatchItem> Items = [];
        public long Bytes;
        public int Expected;
    }

    private readonly object _lock = new();
    private readonly Dictionary<string, Pending> _byNode = new(StringComparer.Ordinal);
    private readonly List<IActorRef> _slots = [];
    private readonly Dictionary<IActorRef, int> _slotOf = new(ReferenceEqualityComparer.Instance); // senders are the coordinators' own refs
    private bool _lingerSet;
    private bool _safetySet;

    /// <summary>Remote messages sent (envelopes) and replica messages carried in them.</summary>
    public int Envelopes { get; private set; }

    public int Carried { get; private set; }

    /// <summary>A replica ref whose messages go through this outbox.</summary>
    public ICanTell For(ReplicaRef replica) => new Batched(this, replica.Node, replica.Partition, replica.IsFallback);

    /// <summary>Announces <paramref name="count"/> more messages for <paramref name="node"/>: its envelope waits for them.</summary>
    public void Expect(string node, int count)
    {
        lock (_lock)
            Of(node).Expected += count;
    }

    private Pending Of(string node)
    {
        if (!_byNode.TryGetValue(node, out var p))
            _byNode[node] = p = new Pending();
        return p;
    }

    private void Add(string node, int partition, bool hints, object message, IActorRef sender)
    {
        List<ReplicaBatchItem>? ready = null;
        TimeSpan? schedule = null;
        lock (_lock)
        {
            int slot = -1; // no sender (read repair): no answer expected
            if (sender is not null && !sender.IsNobody() && !_slotOf.TryGetValue(sender, out slot))
            {
                _slotOf[sender] = slot = _slots.Count;
                _slots.Add(sender);
            }
            var p = Of(node);
            p.Items.Add(new ReplicaBatchItem(slot, partition, hints, message));
            p.Bytes += SizeOf(message);
            bool announced = p.Expected > 0;
            if (announced && --p.Expected == 0 || p.Bytes >= BatchLimits.MaxMessageBytes)
                ready = Take(p);
            else if (announced && !_safetySet)
            {
                // The rest of the wave is on its way; should it not come (a key failed first), this sends what there is.
                _safetySet = true;
                schedule = Safety;
            }
            else if (!announced && !_lingerSet)
            {
                _lingerSet = true;
                schedule = Linger;
            }
        }
        if (ready is not null)
            Send(node, ready);
        if (schedule is { } delay)
            system.Scheduler.ScheduleTellOnce(delay, owner, FlushDue.Instance, ActorRefs.NoSender);
    }

    private List<ReplicaBatchItem>? Take(Pending p)
    {
        if (p.Items.Count == 0)
            return null;
        var items = p.Items;
        p.Items = [];
        p.Bytes = 0;
        return items;
    }

    /// <summary>Sends what is waiting for every node (the owner's timer; and when the batch ends).</summary>
    public void Flush()
    {
        var ready = new List<(string, List<ReplicaBatchItem>)>();
        lock (_lock)
        {
            _lingerSet = _safetySet = false;
            foreach (var (node, p) in _byNode)
            {
                if (Take(p) is { } items)
                    ready.Add((node, items));
            }
        }
        foreach (var (node, items) in ready)
            Send(node, items);
    }

    /// <summary>Hands an answer to the coordinator it is for.</summary>
    public void Deliver(ReplicaBatchReplyItem item)
    {
        IActorRef? target = null;
        lock (_lock)
        {
            if (item.Slot >= 0 && item.Slot < _slots.Count)
                target = _slots[item.Slot];
        }
        target?.Tell(item.Message, owner);
    }

    private void Send(string node, List<ReplicaBatchItem> items)
    {
        lock (_lock)
        {
            Envelopes++;
            Carried += items.Count;
        }
        KvPaths.On(system, node, KvPaths.Router).Tell(new ReplicaBatch(batchId, timeoutMs, items), owner);
    }

    /// <summary>About what a message weighs on the wire (its values; the rest is small).</summary>
    internal static long SizeOf(object message) => message switch
    {
        VnodeApply a => (a.Encoded?.Length ?? 1024) + a.Key.Length + 32,
        HintApply h => h.Object.Values.Sum(v => (long)v.Value.Length) + h.Key.Length + 64,
        VnodeCoordinatePut p => p.Value.Value.Length + p.Key.Length + 64,
        VnodeGet g => g.Key.Length + 32,
        HintGet g => g.Key.Length + 32,
        VnodeGetReply r => (r.Stored?.Length ?? 0) + 32,
        VnodePutReply r => (r.Encoded?.Length ?? 0) + 32,
        _ => 64,
    };

    /// <summary>A replica as the per-key coordinators see it: a tell that lands in the outbox.</summary>
    private sealed class Batched(ReplicaOutbox outbox, string node, int partition, bool hints) : ICanTell
    {
        public void Tell(object message, IActorRef sender) => outbox.Add(node, partition, hints, message, sender);
    }
}
