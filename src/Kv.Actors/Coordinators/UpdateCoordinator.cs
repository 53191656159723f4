using Kv.Actors.Crdt;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One CRDT update (an actor per request): a primary vnode of the key (the first of the replica
/// list; the next primary when a vnode says it cannot coordinate, e.g. while it fills itself)
/// applies the operation to its merged local state with its own actor id and stores the result
/// durably; the resulting object then goes to the other replicas as a put's does (merged there by
/// DVV sync), and the caller gets <see cref="UpdateSucceeded"/> after W acknowledgements with DW
/// durable (the coordinating vnode's counts as both), or <see cref="QuorumNotMet"/> at the timeout
/// (indeterminate: the update may have been applied), or <see cref="RequestFailed"/> when the
/// operation was refused (nothing stored). Stops when every replica has answered or at the timeout.
/// </summary>
public sealed class UpdateCoordinator : ReceiveActor, IWithTimers
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly CrdtOp _op;
    private readonly IReadOnlyList<ReplicaRef> _replicas;
    private readonly NamespaceProps _props;
    private readonly int _maxBytes;
    private readonly IActorRef _replyTo;
    private readonly Metrics.KvMetrics _metrics = Metrics.KvMetrics.For(Context.System);
    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly long _requestId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly bool[] _acked;
    private readonly bool[] _done;
    private int _coordinator;
    private int _doneCount;
    private DvvSet<Sibling>? _object;
    private Sibling? _state;
    private long _number;
    private byte[]? _result;
    private int _acks;
    private int _durable;
    private int _primaryAcks;
    private string? _lastError;
    private bool _finished;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    public UpdateCoordinator(byte[] ns, byte[] key, CrdtOp op, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, int maxBytes, IActorRef replyTo)
    {
        if (replicas.Count == 0 || replicas[0].IsFallback || props.W < 1 || props.W > replicas.Count || props.DW < 0 || props.DW > props.W)
            throw new ArgumentException($"invalid update quorum: n={replicas.Count} w={props.W} dw={props.DW}");
        (_ns, _key, _op, _replicas, _props, _maxBytes, _replyTo) = (ns, key, op, replicas, props, maxBytes, replyTo);
        _acked = new bool[replicas.Count];
        _done = new bool[replicas.Count];
        Receive<VnodeUpdateReply>(OnCoordinated);
        Receive<VnodePutReply>(OnReplicated);
        Receive<Timeout>(_ =>
        {
            Finish(new QuorumNotMet("update", _acks, _props.W, _durable, _props.DW, _lastError ?? $"timed out after {_props.Timeout.TotalMilliseconds:0} ms"));
            Context.Stop(Self);
        });
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer(Timeout.Instance, Timeout.Instance, _props.Timeout);
        AskToCoordinate();
    }

    private void AskToCoordinate() =>
        _replicas[_coordinator].Vnode.Tell(new VnodeCoordinateUpdate(_ns, _key, _op, _props.Datatype, _requestId, _maxBytes), Self);

    private void OnCoordinated(VnodeUpdateReply reply)
    {
        if (reply.RequestId != _requestId || reply.Partition != _replicas[_coordinator].Partition || _object is not null || _finished)
            return;
        switch (reply.Outcome)
        {
            case UpdateOutcome.Refused:
                Finish(new RequestFailed(reply.Error ?? "refused", FailureCode.InvalidRequest));
                Context.Stop(Self);
                return;
            case UpdateOutcome.NotHere:
            {
                _lastError = reply.Error;
                int next = -1;
                for (int i = _coordinator + 1; i < _replicas.Count; i++)
                {
                    if (!_replicas[i].IsFallback)
                    {
                        next = i;
                        break;
                    }
                }
                if (next < 0)
                {
                    // Nothing was applied anywhere: a definite failure.
                    Finish(new QuorumNotMet("update", 0, _props.W, 0, _props.DW, $"no primary replica could coordinate the update: {reply.Error}"));
                    Context.Stop(Self);
                    return;
                }
                _coordinator = next;
                AskToCoordinate();
                return;
            }
            case UpdateOutcome.Failed:
                Finish(new QuorumNotMet("update", 0, _props.W, 0, _props.DW, reply.Error));
                Context.Stop(Self);
                return;
        }
        if (reply.Object is not { } obj || CrdtValues.Collapse(obj) is not { } state)
        {
            Finish(new QuorumNotMet("update", 0, _props.W, 0, _props.DW, "the coordinating vnode answered without the new state"));
            Context.Stop(Self);
            return;
        }
        (_object, _state, _number, _result) = (obj, state, reply.Number, reply.Result);
        int c = _coordinator;
        _done[c] = true;
        _doneCount++;
        _acked[c] = true;
        _acks++;
        _primaryAcks++;
        _durable++;
        for (int r = 0; r < _replicas.Count; r++)
        {
            if (r == c)
                continue;
            var replica = _replicas[r];
            replica.Vnode.Tell(replica.IsFallback
                ? new Hints.HintApply(replica.Partition, replica.HintFor!, _ns, _key, obj, _requestId)
                : new VnodeApply(_ns, _key, obj, Durable: _props.DW > 1, _requestId) { Encoded = reply.Encoded }, Self);
        }
        Check();
    }

    private void OnReplicated(VnodePutReply reply)
    {
        int i = _replicas.IndexOf(reply.Partition);
        if (reply.RequestId != _requestId || i < 0 || _done[i] || _object is null)
            return;
        _done[i] = true;
        _doneCount++;
        if (reply.Error is not null)
        {
            _lastError = reply.Error;
            if (!_finished && !Reachable())
                Finish(new QuorumNotMet("update", _acks, _props.W, _durable, _props.DW, reply.Error));
        }
        else
        {
            if (!_acked[i])
            {
                _acked[i] = true;
                _acks++;
                if (!_replicas[i].IsFallback)
                    _primaryAcks++;
            }
            if (reply.Durable)
                _durable++;
            Check();
        }
        if (_doneCount == _replicas.Count)
            Context.Stop(Self);
    }

    private void Check()
    {
        if (!_finished && _acks >= _props.W && _durable >= _props.DW && _primaryAcks >= _props.PW)
            Finish(new UpdateSucceeded(_state!.ContentType, _state.Value, _number, _acks, _durable) { Result = _result });
    }


    /// <summary>Whether the answers still to come can make W and DW.</summary>
    private bool Reachable()
    {
        int acks = _acks, durable = _durable, primaries = _primaryAcks;
        for (int i = 0; i < _replicas.Count; i++)
        {
            if (_done[i])
                continue;
            acks++;
            if (!_replicas[i].IsFallback)
                primaries++;
            if (_props.DW > 1 || _replicas[i].IsFallback)
                durable++;
        }
        return acks >= _props.W && durable >= _props.DW && primaries >= _props.PW;
    }

    private void Finish(object result)
    {
        if (_finished)
            return;
        _finished = true;
        _metrics.Request("update", _metrics.Namespace(_ns), result, _startedAt);
        _replyTo.Tell(result, Self);
    }
}
