using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// The rules of one write, apart from who runs them (see <see cref="PutCoordinator"/> for the
/// rules): a <see cref="PutCoordinator"/> actor runs them, and so does a <see cref="LocalWrite"/>
/// (a write whose replicas are all this node's vnodes, without an actor per request). Not
/// thread-safe: its runner gives it one message at a time.
/// </summary>
internal sealed class WriteQuorum
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly VersionVector _context;
    private readonly Sibling _value;
    private readonly IReadOnlyList<ReplicaRef> _replicas;
    private readonly NamespaceProps _props;
    private readonly bool _returnBody;
    private readonly Metrics.KvMetrics _metrics;
    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly bool[] _acked; // by replica index: counted towards W
    private readonly bool[] _done; // by replica index: no further answer expected
    private readonly long _ttlToleranceMs;
    private int _doneCount;
    private DvvSet<Sibling>? _object;
    private int _acks;
    private int _durable;
    private int _primaryAcks; // pw counts primaries only
    private int _errors;
    private string? _lastError;

    public WriteQuorum(byte[] ns, byte[] key, VersionVector context, Sibling value, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, bool returnBody, long ttlToleranceMs, ActorSystem system)
    {
        if (replicas.Count == 0 || props.W < 1 || props.W > replicas.Count || props.DW < 0 || props.DW > props.W)
            throw new ArgumentException($"invalid put quorum: n={replicas.Count} w={props.W} dw={props.DW}");
        (_ns, _key, _context, _value, _replicas, _props, _returnBody, _ttlToleranceMs) = (ns, key, context, value, replicas, props, returnBody, ttlToleranceMs);
        _acked = new bool[replicas.Count];
        _done = new bool[replicas.Count];
        _metrics = Metrics.KvMetrics.For(system);
    }

    public long RequestId { get; } = Random.Shared.NextInt64(1, long.MaxValue);

    public TimeSpan Timeout => _props.Timeout;

    /// <summary>Whether the write has answered its caller.</summary>
    public bool Finished { get; private set; }

    /// <summary>Whether the write was a delete (a tombstone) that succeeded: its parent reaps it later.</summary>
    public bool TombstoneWritten { get; private set; }

    /// <summary>The first message: to the coordinating vnode (the first replica), with <paramref name="self"/> as sender.</summary>
    public void Start(IActorRef self) =>
        _replicas[0].Vnode.Tell(new VnodeCoordinatePut(_ns, _key, _context, _value, RequestId, _props.SiblingsMax, _props.SiblingsWarn, _props.LastWriteWins), self);

    /// <summary>
    /// Takes a replica's answer (replicating the new version to the other replicas, with
    /// <paramref name="self"/> as sender, once the coordinating vnode has stamped it).
    /// <paramref name="answer"/>: what to send the caller now (null: nothing); <paramref name="stop"/>:
    /// no further answer is expected or useful.
    /// </summary>
    public void Take(VnodePutReply reply, IActorRef self, out object? answer, out bool stop)
    {
        answer = null;
        stop = false;
        int i = _replicas.IndexOf(reply.Partition);
        if (reply.RequestId != RequestId || i < 0 || _done[i])
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
            stop = true; // after this message: nothing more will come
        if (Finished)
            return;
        if (reply.Error is not null)
        {
            _errors++;
            _lastError = reply.Error;
            if (_object is null && reply.Error.StartsWith(VnodeActor.TooManySiblings, StringComparison.Ordinal))
                answer = Finish(new PutRefused(reply.Error));
            else if (_object is null || !Reachable())
                answer = Finish(new QuorumNotMet("put", _acks, _props.W, _durable, _props.DW, reply.Error));
            return;
        }
        if (_object is null)
        {
            if (i != 0 || reply.Object is null)
            {
                _errors++;
                answer = Finish(new QuorumNotMet("put", _acks, _props.W, _durable, _props.DW, "the coordinating vnode answered without the new version"));
                stop = true;
                return;
            }
            // The coordinating vnode stamped the new version; replicate it.
            _object = reply.Object;
            for (int r = 1; r < _replicas.Count; r++)
            {
                var replica = _replicas[r];
                // A fallback keeps it as a hint for the primary it stands in for (always durably).
                replica.Vnode.Tell(replica.IsFallback
                    ? new Hints.HintApply(replica.Partition, replica.HintFor!, _ns, _key, _object, RequestId)
                    : new VnodeApply(_ns, _key, _object, Durable: _props.DW > 1, RequestId) { Encoded = reply.Encoded }, self);
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
            TombstoneWritten = _value.Deleted;
            var body = _returnBody ? Expiry.AsRead(_object, TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds(), _ttlToleranceMs) : null;
            answer = Finish(new PutSucceeded(body, _acks, _durable, _object.Join()));
        }
    }

    /// <summary>The answer at the timeout (null when the caller has had one).</summary>
    public object? TimedOut() =>
        Finished ? null : Finish(new QuorumNotMet("put", _acks, _props.W, _durable, _props.DW, _lastError ?? $"timed out after {_props.Timeout.TotalMilliseconds:0} ms"));

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

    private object Finish(object result)
    {
        Finished = true;
        _metrics.Request(_value.Deleted ? "delete" : "put", _metrics.Namespace(_ns), result, _startedAt);
        return result;
    }
}
