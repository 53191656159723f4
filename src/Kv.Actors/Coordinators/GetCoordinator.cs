using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One read (an actor per request): asks all N replicas, answers after R (notfound_ok: a not-found
/// counts toward R; basic_quorum: a majority of not-founds ends the read early), merging the
/// versions it got (dominated ones drop out; concurrent ones stay as siblings, or the newest one
/// wins in a last_write_wins namespace). Then it waits for the remaining replicas until the
/// timeout and sends the merged object to every replica that was missing it or held less (read
/// repair). Then it stops. Answers are matched by partition, so a reply forwarded by a vnode that
/// has handed its partition off still counts.
/// </summary>
public sealed class GetCoordinator : ReceiveActor
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly IReadOnlyList<ReplicaRef> _replicas;
    private readonly NamespaceProps _props;
    private readonly IActorRef _replyTo;
    private readonly long _requestId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly Dictionary<int, VnodeGetReply> _answers = [];
    private readonly HashSet<int> _failed = [];
    private bool _replied;
    private ICancelable? _timer;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    public GetCoordinator(byte[] ns, byte[] key, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, IActorRef replyTo)
    {
        if (replicas.Count == 0 || props.R < 1 || props.R > replicas.Count)
            throw new ArgumentException($"invalid get quorum: n={replicas.Count} r={props.R}");
        (_ns, _key, _replicas, _props, _replyTo) = (ns, key, replicas, props, replyTo);
        Receive<VnodeGetReply>(OnReply);
        Receive<Timeout>(_ => OnTimeout());
    }

    protected override void PreStart()
    {
        _timer = Context.System.Scheduler.ScheduleTellOnce(_props.Timeout, Self, Timeout.Instance, null);
        foreach (var replica in _replicas)
            replica.Vnode.Tell(new VnodeGet(_ns, _key, _requestId), Self);
    }

    protected override void PostStop() => _timer?.Cancel();

    private void OnReply(VnodeGetReply reply)
    {
        if (reply.RequestId != _requestId || _answers.ContainsKey(reply.Partition) || _failed.Contains(reply.Partition) || _replicas.All(r => r.Partition != reply.Partition))
            return;
        if (reply.Error is not null)
        {
            _failed.Add(reply.Partition);
            if (!_replied && _replicas.Count - _failed.Count < _props.R)
                Reply(new QuorumNotMet("get", Counted, _props.R, 0, 0, reply.Error));
        }
        else
        {
            _answers[reply.Partition] = reply;
        }
        if (!_replied)
        {
            int found = _answers.Values.Count(a => a.Found);
            int notFound = _answers.Count - found;
            if (Counted >= _props.R)
                Reply(Result());
            else if (_props.BasicQuorum && notFound >= _replicas.Count / 2 + 1)
                Reply(new NotFound(VersionVector.Empty));
        }
        if (_answers.Count + _failed.Count == _replicas.Count)
            RepairAndStop();
    }

    private int Counted => _props.NotFoundOk ? _answers.Count : _answers.Values.Count(a => a.Found);

    private object Result()
    {
        var (merged, stored) = Merged();
        if (merged is null)
            return new NotFound(VersionVector.Empty);
        if (_props.LastWriteWins && merged.Size > 1)
        {
            // The newest value wins, a tombstone too (a delete newer than the live siblings is not
            // undone by them); the context still covers everything that was read.
            var winner = merged.Values.MaxBy(v => v.LastModifiedMs)!;
            return winner.Deleted ? new NotFound(merged.Join()) : new GetSucceeded(DvvSet<Sibling>.New(merged.Join(), winner));
        }
        if (merged.Values.All(v => v.Deleted))
            return new NotFound(merged.Join());
        if (merged.Size > _props.SiblingsWarn)
            Context.System.Log.Warning($"{Describe()} has {merged.Size} siblings (warn above {_props.SiblingsWarn}); write with the context of a read to resolve them");
        return new GetSucceeded(merged) { Stored = stored };
    }

    private string Describe() => $"key {Convert.ToHexString(_key)} in namespace {System.Text.Encoding.UTF8.GetString(_ns)}";

    /// <summary>
    /// The merge of the objects found, and its encoding when every replica that had the key stored the
    /// same bytes (the common case: then that object is the merge, decoded once, and nothing to repair).
    /// </summary>
    private (DvvSet<Sibling>? Merged, ReadOnlyMemory<byte>? Stored) Merged()
    {
        if (Identical() is { } same)
            return (same.Object, same.Stored);
        DvvSet<Sibling>? merged = null;
        foreach (var a in _answers.Values)
        {
            if (a.Object is { } o)
                merged = merged is null ? o : DvvSet<Sibling>.Sync(merged, o);
        }
        return (merged, null);
    }

    /// <summary>An answer holding the key, when every answer that does holds exactly the same stored bytes.</summary>
    private VnodeGetReply? Identical()
    {
        VnodeGetReply? first = null;
        foreach (var a in _answers.Values)
        {
            if (!a.Found)
                continue;
            if (a.Stored is not { } stored)
                return null;
            if (first is null)
                first = a;
            else if (!stored.Span.SequenceEqual(first.Stored!.Value.Span))
                return null;
        }
        return first;
    }

    private void Reply(object result)
    {
        _replied = true;
        _replyTo.Tell(result, Self);
    }

    private void OnTimeout()
    {
        if (!_replied)
            Reply(new QuorumNotMet("get", Counted, _props.R, 0, 0, $"timed out after {_props.Timeout.TotalMilliseconds:0} ms"));
        RepairAndStop();
    }

    private void RepairAndStop()
    {
        var (merged, stored) = Merged();
        if (merged is not null)
        {
            int repaired = 0;
            foreach (var replica in _replicas)
            {
                if (!_answers.TryGetValue(replica.Partition, out var answer))
                    continue;
                if (!answer.Found || (stored is null && answer.Object is { } obj && !obj.SameAs(DvvSet<Sibling>.Sync(obj, merged))))
                {
                    replica.Vnode.Tell(new VnodeApply(_ns, _key, merged, Durable: false, VnodeApply.NoReply), null);
                    repaired++;
                }
            }
            if (repaired > 0)
                Context.System.EventStream.Publish(new ReadRepaired(_ns, _key, repaired));
        }
        Context.Stop(Self);
    }
}
