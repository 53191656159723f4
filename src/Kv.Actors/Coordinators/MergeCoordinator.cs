using Akka.Actor;
using Kv.Actors.Hints;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One restored object (an actor per key, under a batch coordinator): sends the object to each of
/// the key's replicas to be merged with what it holds (<see cref="VnodeApply"/>, the DVV sync of
/// read repair and handoff: values the object's context does not cover stay, so a restore never
/// overwrites newer writes), or to a fallback's hint store for the primary it stands in for. The
/// caller gets <see cref="PutSucceeded"/> after W acknowledgements with DW of them durable (PW of
/// them primaries), or <see cref="QuorumNotMet"/> at the timeout or once errors make it impossible.
/// It stops when every replica has answered or at the timeout.
/// </summary>
public sealed class MergeCoordinator : ReceiveActor, IWithTimers
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly DvvSet<Sibling> _object;
    private readonly IReadOnlyList<ReplicaRef> _replicas;
    private readonly NamespaceProps _props;
    private readonly IActorRef _replyTo;
    private readonly long _requestId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly bool[] _done;
    private int _doneCount;
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

    /// <param name="ns">The namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="obj">The object to merge.</param>
    /// <param name="replicas">The key's replicas (fallbacks for primaries that are away).</param>
    /// <param name="props">The namespace's settings with the request's overrides.</param>
    /// <param name="replyTo">Who gets the answer.</param>
    public MergeCoordinator(byte[] ns, byte[] key, DvvSet<Sibling> obj, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, IActorRef replyTo)
    {
        if (replicas.Count == 0 || props.W < 1 || props.W > replicas.Count || props.DW < 0 || props.DW > props.W)
            throw new ArgumentException($"invalid merge quorum: n={replicas.Count} w={props.W} dw={props.DW}");
        (_ns, _key, _object, _replicas, _props, _replyTo) = (ns, key, obj, replicas, props, replyTo);
        _done = new bool[replicas.Count];
        Receive<VnodePutReply>(OnReply);
        Receive<Timeout>(_ =>
        {
            Finish(new QuorumNotMet("put", _acks, _props.W, _durable, _props.DW, _lastError ?? $"timed out after {_props.Timeout.TotalMilliseconds:0} ms"));
            Context.Stop(Self);
        });
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer(Timeout.Instance, Timeout.Instance, _props.Timeout);
        bool durable = _props.DW > 0;
        foreach (var replica in _replicas)
        {
            replica.Vnode.Tell(replica.IsFallback
                ? new HintApply(replica.Partition, replica.HintFor!, _ns, _key, _object, _requestId)
                : new VnodeApply(_ns, _key, _object, durable, _requestId), Self);
        }
    }

    private void OnReply(VnodePutReply reply)
    {
        int i = _replicas.IndexOf(reply.Partition);
        if (reply.RequestId != _requestId || i < 0 || _done[i])
            return;
        _done[i] = true;
        if (++_doneCount == _replicas.Count)
            Context.Stop(Self);
        if (_finished)
            return;
        if (reply.Error is not null)
        {
            _lastError = reply.Error;
            if (!Reachable())
                Finish(new QuorumNotMet("put", _acks, _props.W, _durable, _props.DW, reply.Error));
            return;
        }
        _acks++;
        if (!_replicas[i].IsFallback)
            _primaryAcks++;
        if (reply.Durable)
            _durable++;
        if (_acks >= _props.W && _durable >= _props.DW && _primaryAcks >= _props.PW)
            Finish(new PutSucceeded(null, _acks, _durable, _object.Join()));
    }

    /// <summary>Whether the answers still to come can make W, DW and PW.</summary>
    private bool Reachable()
    {
        int open = 0, openPrimaries = 0;
        for (int i = 0; i < _replicas.Count; i++)
        {
            if (_done[i])
                continue;
            open++;
            if (!_replicas[i].IsFallback)
                openPrimaries++;
        }
        return _acks + open >= _props.W && _durable + open >= _props.DW && _primaryAcks + openPrimaries >= _props.PW;
    }

    private void Finish(object result)
    {
        if (_finished)
            return;
        _finished = true;
        _replyTo.Tell(result, Self);
    }
}
