using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Kv.Cluster.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One read (an actor per request): asks all N replicas, answers after R (notfound_ok: a not-found
/// counts toward R; basic_quorum: a majority of not-founds ends the read early), merging the
/// versions it got (dominated ones drop out; concurrent ones stay as siblings). Then it waits for
/// the remaining replicas until the timeout and sends the merged object to every replica that
/// was missing it or held less (read repair). Then it stops.
/// </summary>
public sealed class GetCoordinator : ReceiveActor
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly IReadOnlyList<IActorRef> _preflist;
    private readonly int _r;
    private readonly bool _notFoundOk;
    private readonly bool _basicQuorum;
    private readonly IActorRef _replyTo;
    private readonly long _requestId = Random.Shared.NextInt64();
    private readonly Dictionary<IActorRef, DvvSet<Sibling>?> _answers = [];
    private int _errors;
    private bool _replied;
    private readonly TimeSpan _timeout;
    private ICancelable? _timer;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    public GetCoordinator(byte[] ns, byte[] key, IReadOnlyList<IActorRef> preflist, int r, bool notFoundOk, bool basicQuorum, TimeSpan timeout, IActorRef replyTo)
    {
        if (preflist.Count == 0 || r < 1 || r > preflist.Count)
            throw new ArgumentException($"invalid get quorum: n={preflist.Count} r={r}");
        (_ns, _key, _preflist, _r, _notFoundOk, _basicQuorum, _timeout, _replyTo) = (ns, key, preflist, r, notFoundOk, basicQuorum, timeout, replyTo);
        Receive<VnodeGetReply>(OnReply);
        Receive<Timeout>(_ => OnTimeout());
    }

    protected override void PreStart()
    {
        _timer = Context.System.Scheduler.ScheduleTellOnce(_timeout, Self, Timeout.Instance, null);
        foreach (var vnode in _preflist)
            vnode.Tell(new VnodeGet(_ns, _key, _requestId), Self);
    }

    protected override void PostStop() => _timer?.Cancel();

    private void OnReply(VnodeGetReply reply)
    {
        if (reply.RequestId != _requestId || _answers.ContainsKey(Sender))
            return;
        if (reply.Error is not null)
        {
            _errors++;
            if (!_replied && _preflist.Count - _errors < _r)
                Reply(new QuorumNotMet("get", Counted, _r, 0, 0, reply.Error));
        }
        else
        {
            _answers[Sender] = reply.Object;
        }
        if (!_replied)
        {
            int found = _answers.Values.Count(o => o is not null);
            int notFound = _answers.Count - found;
            if (Counted >= _r)
                Reply(Merged() is { } m && m.Values.Any(v => !v.Deleted) ? new GetSucceeded(m) : new NotFound(Merged()?.Join() ?? VersionVector.Empty));
            else if (_basicQuorum && notFound >= _preflist.Count / 2 + 1)
                Reply(new NotFound(VersionVector.Empty));
        }
        if (_answers.Count + _errors == _preflist.Count)
            RepairAndStop();
    }

    private int Counted => _notFoundOk ? _answers.Count : _answers.Values.Count(o => o is not null);

    private DvvSet<Sibling>? Merged()
    {
        DvvSet<Sibling>? merged = null;
        foreach (var o in _answers.Values)
        {
            if (o is not null)
                merged = merged is null ? o : DvvSet<Sibling>.Sync(merged, o);
        }
        return merged;
    }

    private void Reply(object result)
    {
        _replied = true;
        _replyTo.Tell(result, Self);
    }

    private void OnTimeout()
    {
        if (!_replied)
            Reply(new QuorumNotMet("get", Counted, _r, 0, 0, "timed out"));
        RepairAndStop();
    }

    private void RepairAndStop()
    {
        var merged = Merged();
        if (merged is not null)
        {
            int repaired = 0;
            foreach (var (vnode, obj) in _answers)
            {
                if (obj is null || !obj.SameAs(DvvSet<Sibling>.Sync(obj, merged)))
                {
                    vnode.Tell(new VnodeApply(_ns, _key, merged, Durable: false, VnodeApply.NoReply), null);
                    repaired++;
                }
            }
            if (repaired > 0)
                Context.System.EventStream.Publish(new ReadRepaired(_ns, _key, repaired));
        }
        Context.Stop(Self);
    }
}
