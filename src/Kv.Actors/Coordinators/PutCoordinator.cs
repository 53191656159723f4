using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Kv.Cluster.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One write (an actor per request): the coordinating vnode (first of the preference list) stamps
/// the value with a new dot and stores it durably; the result goes to the other replicas; the
/// caller gets <see cref="PutSucceeded"/> after W acknowledgements with DW of them durable, or
/// <see cref="QuorumNotMet"/> (how many answered, how many were needed) at the timeout. Then it stops.
/// </summary>
public sealed class PutCoordinator : ReceiveActor
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly VersionVector _context;
    private readonly Sibling _value;
    private readonly IReadOnlyList<IActorRef> _preflist;
    private readonly int _w;
    private readonly int _dw;
    private readonly TimeSpan _timeout;
    private readonly IActorRef _replyTo;
    private readonly long _requestId = Random.Shared.NextInt64();
    private DvvSet<Sibling>? _object;
    private int _acks;
    private int _durable;
    private int _errors;
    private string? _lastError;
    private ICancelable? _timer;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    private readonly int _maxSiblings;

    public PutCoordinator(byte[] ns, byte[] key, VersionVector context, Sibling value, IReadOnlyList<IActorRef> preflist, int w, int dw, TimeSpan timeout, IActorRef replyTo, int maxSiblings = 100)
    {
        _maxSiblings = maxSiblings;
        if (preflist.Count == 0 || w < 1 || w > preflist.Count || dw < 0 || dw > w)
            throw new ArgumentException($"invalid put quorum: n={preflist.Count} w={w} dw={dw}");
        (_ns, _key, _context, _value, _preflist, _w, _dw, _timeout, _replyTo) = (ns, key, context, value, preflist, w, dw, timeout, replyTo);
        Receive<VnodePutReply>(OnReply);
        Receive<Timeout>(_ => Finish(new QuorumNotMet("put", _acks, _w, _durable, _dw, _lastError ?? "timed out")));
    }

    protected override void PreStart()
    {
        _timer = Context.System.Scheduler.ScheduleTellOnce(_timeout, Self, Timeout.Instance, null);
        _preflist[0].Tell(new VnodeCoordinatePut(_ns, _key, _context, _value, _requestId, _maxSiblings), Self);
    }

    protected override void PostStop() => _timer?.Cancel();

    private void OnReply(VnodePutReply reply)
    {
        if (reply.RequestId != _requestId)
            return;
        if (_object is null && reply.Error is { } refusal && refusal.StartsWith(VnodeActor.TooManySiblings, StringComparison.Ordinal))
        {
            Finish(new PutRefused(refusal));
            return;
        }
        if (reply.Error is not null || reply.Object is null)
        {
            _errors++;
            _lastError = reply.Error;
            if (_object is null || _preflist.Count - _errors < _w)
                Finish(new QuorumNotMet("put", _acks, _w, _durable, _dw, reply.Error));
            return;
        }
        if (_object is null)
        {
            // The coordinating vnode stored the new version; replicate it.
            _object = reply.Object;
            for (int i = 1; i < _preflist.Count; i++)
                _preflist[i].Tell(new VnodeApply(_ns, _key, _object, Durable: _dw > 1, _requestId), Self);
        }
        _acks++;
        if (reply.Durable)
            _durable++;
        if (_acks >= _w && _durable >= _dw)
            Finish(new PutSucceeded(_object, _acks, _durable));
    }

    private void Finish(object result)
    {
        _replyTo.Tell(result, Self);
        Context.Stop(Self);
    }
}
