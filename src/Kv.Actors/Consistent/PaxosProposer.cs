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
/// keys run concurrently, each round a <see cref="PaxosOperation"/> child. Its ballots come from one <see cref="BallotClock"/> named
/// after this node and incarnation. Started elsewhere after a failure or a rebalance, it needs no
/// recovery: every operation starts with a prepare round. On sharding's hand-off it finishes what
/// it runs, then stops.
/// </summary>
public sealed class PaxosProposer : ReceiveActor
{
    private readonly int _partition;
    private readonly BallotClock _clock;
    private readonly Dictionary<string, Queue<(ConsistentRequest Request, IActorRef ReplyTo)>> _queues = new(StringComparer.Ordinal);
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
        Start(queue);
    }

    /// <summary>A round for the operations at the head of <paramref name="queue"/> (they stay queued until it is done): as many as go together, on the same primaries.</summary>
    private void Start(Queue<(ConsistentRequest Request, IActorRef ReplyTo)> queue)
    {
        var first = queue.Peek().Request;
        var batch = queue.TakeWhile(q => q.Request.Primaries.SequenceEqual(first.Primaries)).Take(PaxosOperation.MaxBatch).ToList();
        var acceptors = Acceptors(Context.System, first.Primaries);
        var clock = _clock;
        Context.ActorOf(KvProps.Of(() => new PaxosOperation(batch, acceptors, clock)));
    }

    private void OnDone(PaxosOperation.Done done)
    {
        if (_queues.TryGetValue(done.KeyId, out var queue))
        {
            for (int i = 0; i < done.Count && queue.Count > 0; i++)
                queue.Dequeue();
            if (queue.Count == 0)
                _queues.Remove(done.KeyId);
            else
                Start(queue);
        }
        if (_stopping && _queues.Count == 0)
            Context.Stop(Self);
    }
}
