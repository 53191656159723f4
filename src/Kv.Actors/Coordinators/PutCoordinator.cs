using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One write (an actor per request): the coordinating vnode (first of the replica list, local to
/// this node) stamps the value with a new dot and answers with the new version at once, then again
/// once it is durable (Riak's w and dw); the new version goes to the other replicas as soon as it
/// arrives, so they commit while the coordinating vnode does. The caller gets
/// <see cref="PutSucceeded"/> after W acknowledgements with DW of them durable, or
/// <see cref="QuorumNotMet"/> (how many answered, how many were needed) at the timeout or as soon as
/// errors make the quorum impossible. A fallback (sloppy quorum) gets the new version as a hint for
/// the primary it stands in for; its durable acknowledgement counts toward W and DW, not toward PW. A tombstone that succeeded is
/// reported to the parent (<see cref="TombstoneWritten"/>) so it can be reaped later. It stops when
/// every replica has answered or at the timeout, so late acknowledgements are not dead letters.
/// </summary>
public sealed class PutCoordinator : ReceiveActor, IWithTimers
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly VersionVector _context;
    private readonly Sibling _value;
    private readonly IReadOnlyList<ReplicaRef> _replicas;
    private readonly NamespaceProps _props;
    private readonly bool _returnBody;
    private readonly IActorRef _replyTo;
    private readonly Metrics.KvMetrics _metrics = Metrics.KvMetrics.For(Context.System);
    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly long _requestId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly bool[] _acked; // by replica index: counted towards W
    private readonly bool[] _done; // by replica index: no further answer expected
    private int _doneCount;
    private DvvSet<Sibling>? _object;
    private int _acks;
    private int _durable;
    private int _primaryAcks; // pw counts primaries only
    private int _errors;
    private string? _lastError;
    private bool _finished;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    private readonly long _ttlToleranceMs;

    /// <param name="ns">The namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="context">The causal context of the read the write is based on.</param>
    /// <param name="value">The new value (stamped with its time, and its expiry when it has a TTL).</param>
    /// <param name="replicas">The key's replicas, the coordinating vnode first.</param>
    /// <param name="props">The namespace's settings with the request's overrides.</param>
    /// <param name="replyTo">Who gets the answer.</param>
    /// <param name="returnBody">Answer with the stored object (expired values in it read as tombstones).</param>
    /// <param name="ttlToleranceMs">kv.ttl.clock-skew-tolerance, for the returned body.</param>
    public PutCoordinator(byte[] ns, byte[] key, VersionVector context, Sibling value, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, IActorRef replyTo, bool returnBody = false,
        long ttlToleranceMs = 0)
    {
        _ttlToleranceMs = ttlToleranceMs;
        if (replicas.Count == 0 || props.W < 1 || props.W > replicas.Count || props.DW < 0 || props.DW > props.W)
            throw new ArgumentException($"invalid put quorum: n={replicas.Count} w={props.W} dw={props.DW}");
        (_ns, _key, _context, _value, _replicas, _props, _replyTo, _returnBody) = (ns, key, context, value, replicas, props, replyTo, returnBody);
        _acked = new bool[replicas.Count];
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
        _replicas[0].Vnode.Tell(new VnodeCoordinatePut(_ns, _key, _context, _value, _requestId, _props.SiblingsMax, _props.SiblingsWarn, _props.LastWriteWins), Self);
    }

    private void OnReply(VnodePutReply reply)
    {
        int i = _replicas.IndexOf(reply.Partition);
        if (reply.RequestId != _requestId || i < 0 || _done[i])
            return;
        // The coordinating vnode answers first with the new version (not yet durable), then with
        // its durable acknowledgement or an error; the others answer once. (A single answer with
        // the object that is already durable counts as both.)
        if (reply.Error is not null || reply.Durable || i != 0)
        {
            _done[i] = true;
            _doneCount++;
        }
        if (_doneCount == _replicas.Count || (_object is null && reply.Error is not null))
            Context.Stop(Self); // after this message: nothing more will come
        if (_finished)
            return;
        if (reply.Error is not null)
        {
            _errors++;
            _lastError = reply.Error;
            if (_object is null && reply.Error.StartsWith(VnodeActor.TooManySiblings, StringComparison.Ordinal))
                Finish(new PutRefused(reply.Error));
            else if (_object is null || !Reachable())
                Finish(new QuorumNotMet("put", _acks, _props.W, _durable, _props.DW, reply.Error));
            return;
        }
        if (_object is null)
        {
            if (i != 0 || reply.Object is null)
            {
                _errors++;
                Finish(new QuorumNotMet("put", _acks, _props.W, _durable, _props.DW, "the coordinating vnode answered without the new version"));
                Context.Stop(Self);
                return;
            }
            // The coordinating vnode stamped the new version; replicate it.
            _object = reply.Object;
            for (int r = 1; r < _replicas.Count; r++)
            {
                var replica = _replicas[r];
                // A fallback keeps it as a hint for the primary it stands in for (always durably).
                replica.Vnode.Tell(replica.IsFallback
                    ? new Hints.HintApply(replica.Partition, replica.HintFor!, _ns, _key, _object, _requestId)
                    : new VnodeApply(_ns, _key, _object, Durable: _props.DW > 1, _requestId) { Encoded = reply.Encoded }, Self);
            }
        }
        if (!_acked[i])
        {
            _acked[i] = true;
            _acks++;
            if (!_replicas[i].IsFallback)
                _primaryAcks++;
        }
        if (reply.Durable)
            _durable++;
        if (_acks >= _props.W && _durable >= _props.DW && _primaryAcks >= _props.PW)
        {
            if (_value.Deleted)
                Context.Parent.Tell(new TombstoneWritten(_ns, _key), Self);
            var body = _returnBody ? Expiry.AsRead(_object, TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds(), _ttlToleranceMs) : null;
            Finish(new PutSucceeded(body, _acks, _durable, _object.Join()));
        }
    }


    /// <summary>Whether the answers still to come can make both W and DW (replicas apply durably only when DW > 1).</summary>
    private bool Reachable()
    {
        int acks = _acks, durable = _durable, primaries = _primaryAcks;
        for (int i = 0; i < _replicas.Count; i++)
        {
            if (_done[i])
                continue;
            if (!_acked[i])
            {
                acks++;
                if (!_replicas[i].IsFallback)
                    primaries++;
            }
            if (i == 0 || _props.DW > 1 || _replicas[i].IsFallback)
                durable++;
        }
        return acks >= _props.W && durable >= _props.DW && primaries >= _props.PW;
    }

    private void Finish(object result)
    {
        if (_finished)
            return;
        _finished = true;
        _metrics.Request(_value.Deleted ? "delete" : "put", _metrics.Namespace(_ns), result, _startedAt);
        _replyTo.Tell(result, Self);
    }
}

/// <summary>To the coordinator's parent: a delete succeeded; the tombstone may be reaped after the grace period.</summary>
public sealed record TombstoneWritten(byte[] Namespace, byte[] Key);
