using System.Globalization;
using Kv.Actors.Coordinators;
using Akka.Actor;

namespace Kv.Actors.Consistent;

/// <summary>
/// The Paxos proposer of one partition (a sharding entity: entity id = shard id = the partition's
/// index), placed by <see cref="RingShardAllocationStrategy"/> on the partition's owner, so that
/// normally one proposer serves a key and proposers do not duel. Operations on one key run in
/// arrival order, one Paxos round at a time (a queue per key): the operations that queued up while
/// a round ran go together in the next one (up to <see cref="PaxosOperation.MaxBatch"/>, applied in
/// order to the key's state), so a busy key costs a round per batch, not per operation. Different
/// keys run concurrently, each round a <see cref="PaxosOperation"/> child. A round whose value was
/// chosen with this proposer's next ballot promised by a majority leaves the key warm: the key's next
/// round (within <see cref="WarmForMs"/>, on the same acceptors) skips the prepare round and carries
/// the commit of the value before it; the proposer sends a commit of its own only when no round on
/// the key follows at once. Its ballots come from one <see cref="BallotClock"/> named
/// after this node and incarnation. Started elsewhere after a failure or a rebalance, it needs no
/// recovery: every operation starts with a prepare round. On sharding's hand-off it finishes what
/// it runs, then stops.
/// </summary>
public sealed class PaxosProposer : ReceiveActor
{
    private readonly int _partition;
    private readonly BallotClock _clock;
    private readonly Dictionary<string, Queue<(ConsistentRequest Request, IActorRef ReplyTo)>> _queues = new(StringComparer.Ordinal);
    // Per key: the ballot a majority promised with the last chosen value (used once; a stale one only costs a refused round).
    private readonly Dictionary<string, (PaxosOperation.Warm Warm, long At, IReadOnlyList<(int Partition, string Node)> Acceptors)> _warm = new(StringComparer.Ordinal);

    /// <summary>How long a key stays warm after its last round (then its next round prepares again).</summary>
    public const long WarmForMs = 5000;

    private const int MaxWarmKeys = 100_000;
    private bool _stopping;

    public PaxosProposer(int partition, string selfNode)
    {
        _partition = partition;
        _clock = new BallotClock(selfNode + "#" + partition.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8]);
        Receive<ConsistentRequest>(OnRequest);
        Receive<PaxosOperation.Done>(OnDone);
        Receive<StopProposer>(_ =>
        {
            _stopping = true;
            if (_queues.Count == 0)
                Context.Stop(Self);
        });
    }

    /// <summary>
    /// A failed operation is stopped, never restarted: a restart would give it a new id and could
    /// apply it twice (it answers and reports done as it stops).
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    /// <summary>The acceptors (vnodes) of <paramref name="primaries"/>.</summary>
    public static IReadOnlyList<(int Partition, string Node, ActorSelection Vnode)> Acceptors(ActorSystem system, IReadOnlyList<(int Partition, string Node)> primaries) =>
        primaries.Select(p => (p.Partition, p.Node, KvPaths.Vnode(system, p.Node, p.Partition))).ToList();

    private void OnRequest(ConsistentRequest request)
    {
        if (request.Partition != _partition || request.Primaries.Count == 0 || request.Primaries.Count > 16 || request.Primaries[0].Partition != _partition
            || request.Namespace.Length is 0 or > 255 || request.Key.Length == 0)
        {
            Sender.Tell(new RequestFailed($"a malformed consistent request for partition {request.Partition} reached proposer {_partition}"), Self);
            return;
        }
        string key = PaxosOperation.KeyId(request.Namespace, request.Key);
        if (_queues.TryGetValue(key, out var queue))
        {
            queue.Enqueue((request, Sender));
            return;
        }
        queue = new Queue<(ConsistentRequest, IActorRef)>();
        queue.Enqueue((request, Sender));
        _queues[key] = queue;
        Start(key, queue);
    }

    /// <summary>A round for the operations at the head of <paramref name="queue"/> (they stay queued until it is done): as many as go together, on the same primaries.</summary>
    private void Start(string key, Queue<(ConsistentRequest Request, IActorRef ReplyTo)> queue)
    {
        var first = queue.Peek().Request;
        var batch = queue.TakeWhile(q => q.Request.Primaries.SequenceEqual(first.Primaries)).Take(PaxosOperation.MaxBatch).ToList();
        var acceptors = Acceptors(Context.System, first.Primaries);
        var clock = _clock;
        PaxosOperation.Warm? warm = null;
        // Warm only on the same acceptors (the ring may have moved the key since).
        if (_warm.Remove(key, out var w) && Environment.TickCount64 - w.At < WarmForMs && w.Acceptors.SequenceEqual(first.Primaries))
            warm = w.Warm;
        Context.ActorOf(KvProps.Of(() => new PaxosOperation(batch, acceptors, clock, warm)));
    }

    private void OnDone(PaxosOperation.Done done)
    {
        if (done.Chosen is { } chosen && _queues.TryGetValue(done.KeyId, out var ran) && ran.Count > 0
            && !(done.Next is not null && ran.Count > done.Count && ran.ElementAt(done.Count).Request.Primaries.SequenceEqual(ran.Peek().Request.Primaries)))
        {
            // No warm round follows to carry the commit: send it.
            var first = ran.Peek().Request;
            foreach (var (_, _, vnode) in Acceptors(Context.System, first.Primaries))
                vnode.Tell(new PaxosCommit(first.Namespace, first.Key, chosen.Ballot, chosen.Value), Self);
        }
        if (done.Next is not null && _queues.TryGetValue(done.KeyId, out var finished) && finished.Count > 0)
        {
            if (_warm.Count >= MaxWarmKeys)
            {
                long now = Environment.TickCount64;
                foreach (string stale in _warm.Where(e => now - e.Value.At >= WarmForMs).Select(e => e.Key).ToList())
                    _warm.Remove(stale);
                if (_warm.Count >= MaxWarmKeys)
                    _warm.Clear();
            }
            _warm[done.KeyId] = (done.Next, Environment.TickCount64, finished.Peek().Request.Primaries);
        }
        else
        {
            _warm.Remove(done.KeyId);
        }
        if (_queues.TryGetValue(done.KeyId, out var queue))
        {
            for (int i = 0; i < done.Count && queue.Count > 0; i++)
                queue.Dequeue();
            if (queue.Count == 0)
                _queues.Remove(done.KeyId);
            else
                Start(done.KeyId, queue);
        }
        if (_stopping && _queues.Count == 0)
            Context.Stop(Self);
    }
}
