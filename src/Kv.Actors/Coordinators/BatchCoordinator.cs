using Kv.Actors.Objects;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>One key of a batch that reaches its replicas: its place in the batch, its replicas, and how to start its coordinator.</summary>
/// <param name="Index">The key's place in the batch.</param>
/// <param name="Replicas">Its replicas, as a single request's coordinator would get them.</param>
/// <param name="Coordinator">Props of its coordinator, given the replicas to use and where to answer.</param>
internal sealed record BatchKey(int Index, IReadOnlyList<ReplicaRef> Replicas, Func<IReadOnlyList<ReplicaRef>, IActorRef, Props> Coordinator);

/// <summary>
/// Published (on the node's event stream) when a batch coordinator stops: how many keys reached
/// replicas, and the remote messages it took: envelopes sent to other nodes and the replica
/// requests they carried, envelopes of answers received and the answers in them.
/// </summary>
public sealed record BatchFinished(int Keys, int EnvelopesSent, int RequestsCarried, int ReplyEnvelopes, int RepliesCarried);

/// <summary>
/// One batch (<see cref="KvGetMany"/>, <see cref="KvPutMany"/>) on the node that received it: a
/// child coordinator per key, the very <see cref="GetCoordinator"/> or <see cref="PutCoordinator"/>
/// of a single request (same quorums, read repair, siblings, sloppy quorum), whose messages to
/// replicas on other nodes go through a <see cref="ReplicaOutbox"/>: one <see cref="ReplicaBatch"/>
/// per node and wave instead of one message per key and replica. Replicas on this node are told
/// directly (local messages are cheap). The answer (<see cref="KvManyReply"/>) goes to the caller
/// once every key has its outcome; keys refused before they reached a replica come with their
/// outcome already set. It stops when its children have stopped (read repair and late
/// answers still go through the outbox), or at the guard timeout.
/// </summary>
public sealed class BatchCoordinator : ReceiveActor, IWithTimers
{
    private readonly object?[] _outcomes;
    private readonly int[] _sameAs;
    private readonly IReadOnlyList<BatchKey> _keys;
    private readonly string _self;
    private readonly TimeSpan _timeout;
    private readonly IActorRef _replyTo;
    private readonly bool _writes;
    // By reference: a child's outcome comes with its own ref object as the sender (and ActorPath's hash walks the path).
    private readonly Dictionary<IActorRef, int> _indexOf = new(ReferenceEqualityComparer.Instance);
    private readonly long _batchId = Random.Shared.NextInt64(1, long.MaxValue);
    private ReplicaOutbox _outbox = null!;
    private int _waiting;
    private int _children;
    private bool _replied;
    private int _replyEnvelopes;
    private int _repliesCarried;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Guard
    {
        public static readonly Guard Instance = new();
    }

    /// <param name="outcomes">One per key of the batch; set for the keys refused before any replica (the rest null).</param>
    /// <param name="sameAs">Per key: the index of an earlier equal key whose outcome it shares, or -1.</param>
    /// <param name="keys">The keys to coordinate.</param>
    /// <param name="self">This node's address.</param>
    /// <param name="timeout">The longest request timeout of the batch's keys.</param>
    /// <param name="replyTo">Who gets the <see cref="KvManyReply"/>.</param>
    /// <param name="writes">Whether the keys are writes (their coordinators ask the first replica, then the others).</param>
    internal BatchCoordinator(object?[] outcomes, int[] sameAs, IReadOnlyList<BatchKey> keys, string self, TimeSpan timeout, IActorRef replyTo, bool writes)
    {
        (_outcomes, _sameAs, _keys, _self, _timeout, _replyTo, _writes) = (outcomes, sameAs, keys, self, timeout, replyTo, writes);
        Receive<GetSucceeded>(Outcome);
        Receive<NotFound>(Outcome);
        Receive<PutSucceeded>(Outcome);
        Receive<PutRefused>(Outcome);
        Receive<QuorumNotMet>(Outcome);
        Receive<ReplicaBatchReply>(r =>
        {
            if (r.BatchId == _batchId)
            {
                _replyEnvelopes++;
                _repliesCarried += r.Items.Count;
                foreach (var item in r.Items)
                    _outbox.Deliver(item);
            }
        });
        Receive<ReplicaOutbox.FlushDue>(_ => _outbox.Flush());
        Receive<TombstoneWritten>(t => Context.Parent.Tell(t, Self));
        Receive<Terminated>(_ =>
        {
            _children--;
            StopWhenDone();
        });
        Receive<Guard>(_ =>
        {
            for (int i = 0; i < _outcomes.Length; i++)
                _outcomes[i] ??= new QuorumNotMet("batch", 0, 1, 0, 0, $"no outcome within {_timeout.TotalMilliseconds:0} ms");
            Reply();
            _outbox.Flush();
            Context.Stop(Self);
        });
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Publish(new BatchFinished(_keys.Count, _outbox.Envelopes, _outbox.Carried, _replyEnvelopes, _repliesCarried));
    }

    protected override void PreStart()
    {
        _outbox = new ReplicaOutbox(Context.System, Self, _batchId, (long)_timeout.TotalMilliseconds);
        Timers.StartSingleTimer(Guard.Instance, Guard.Instance, _timeout + TimeSpan.FromSeconds(2));
        foreach (var key in _keys)
        {
            foreach (var r in Announced(key))
                _outbox.Expect(r.Node, 1);
        }
        foreach (var key in _keys)
        {
            var replicas = key.Replicas.Select(r => r.Node == _self ? r : r with { Vnode = _outbox.For(r) }).ToList();
            var child = Context.ActorOf(key.Coordinator(replicas, Self));
            Context.Watch(child);
            _indexOf[child] = key.Index;
            _children++;
            _waiting++;
        }
        if (_waiting == 0)
        {
            Reply();
            Context.Stop(Self);
        }
    }

    /// <summary>
    /// The messages a key's coordinator sends to other nodes without waiting for anything but this
    /// batch's own answers: a read asks all its replicas at its start; a write whose coordinating
    /// vnode is here sends the new version to the others as soon as that vnode answers. (A write
    /// coordinated by a vnode elsewhere is not announced: its messages go after a short linger.)
    /// </summary>
    private IEnumerable<ReplicaRef> Announced(BatchKey key)
    {
        if (!_writes)
            return key.Replicas.Where(r => r.Node != _self);
        return key.Replicas[0].Node == _self ? key.Replicas.Skip(1).Where(r => r.Node != _self) : [];
    }

    private void Outcome(object outcome)
    {
        if (!_indexOf.TryGetValue(Sender, out int i) || _outcomes[i] is not null)
            return;
        _outcomes[i] = outcome;
        if (--_waiting == 0)
        {
            Reply();
            StopWhenDone();
        }
    }

    private void StopWhenDone()
    {
        if (_replied && _children == 0)
        {
            _outbox.Flush();
            Context.Stop(Self);
        }
    }

    private void Reply()
    {
        if (_replied)
            return;
        _replied = true;
        var outcomes = new object[_outcomes.Length];
        long bytes = 0;
        for (int i = 0; i < outcomes.Length; i++)
        {
            var o = _sameAs[i] >= 0 ? _outcomes[_sameAs[i]] : _outcomes[i];
            o ??= new QuorumNotMet("batch", 0, 1, 0, 0, "no outcome");
            long size = o switch
            {
                GetSucceeded g => g.Stored?.Length ?? g.Object.Values.Sum(v => (long)v.Value.Length),
                PutSucceeded { Object: { } body } => body.Values.Sum(v => (long)v.Value.Length), // return_body
                _ => 0,
            };
            if (size > 0 && bytes > 0 && bytes + size > BatchLimits.MaxMessageBytes)
                o = o is GetSucceeded
                    ? new RequestFailed($"the batch's answer would pass {BatchLimits.MaxMessageBytes} bytes of values at this key: read it alone or in a smaller batch", FailureCode.ValueTooLarge)
                    : o is PutSucceeded p ? p with { Object = null } : o; // written; the body does not fit (read it)
            else
                bytes += size;
            outcomes[i] = o;
        }
        _replyTo.Tell(new KvManyReply(outcomes), Self);
    }
}
