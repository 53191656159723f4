using System.Globalization;
using Kv.Actors.Coordinators;
using Akka.Actor;

namespace Kv.Actors.Consistent;

/// <summary>
/// The Paxos proposer of one partition (a sharding entity: entity id = shard id = the partition's
/// index), placed by <see cref="RingShardAllocationStrategy"/> on the partition's owner, so that
/// normally one proposer serves a key and proposers do not duel. Operations on one key run one at
/// a time, in arrival order (a queue per key); different keys run concurrently, each a
/// <see cref="PaxosOperation"/> child. Its ballots come from one <see cref="BallotClock"/> named
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
        _queues[key] = new Queue<(ConsistentRequest, IActorRef)>([(request, Sender)]);
        Start(request, Sender);
    }

    private void Start(ConsistentRequest request, IActorRef replyTo)
    {
        var acceptors = Acceptors(Context.System, request.Primaries);
        var clock = _clock;
        Context.ActorOf(KvProps.Of(() => new PaxosOperation(request, acceptors, clock, replyTo)));
    }

    private void OnDone(PaxosOperation.Done done)
    {
        if (_queues.TryGetValue(done.KeyId, out var queue))
        {
            queue.Dequeue();
            if (queue.Count == 0)
                _queues.Remove(done.KeyId);
            else
                Start(queue.Peek().Request, queue.Peek().ReplyTo);
        }
        if (_stopping && _queues.Count == 0)
            Context.Stop(Self);
    }
}
