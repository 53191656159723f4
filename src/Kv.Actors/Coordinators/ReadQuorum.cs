using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.Event;

namespace Kv.Actors.Coordinators;

/// <summary>
/// The rules of one read, apart from who runs them: the answers a read got, when it can answer
/// and with what, and what read repair sends afterwards (see <see cref="GetCoordinator"/> for the
/// rules). A <see cref="GetCoordinator"/> actor runs them, and so does a <see cref="LocalRead"/>
/// (a read whose replicas are all this node's vnodes, without an actor per request). Not
/// thread-safe: its runner gives it one message at a time.
/// </summary>
internal sealed class ReadQuorum
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly IReadOnlyList<ReplicaRef> _replicas;
    private readonly NamespaceProps _props;
    private readonly ILoggingAdapter _log;
    private readonly Metrics.KvMetrics _metrics;
    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly Dictionary<int, VnodeGetReply> _answers = [];
    private readonly HashSet<int> _failed = [];
    private string? _lastError;
    private readonly long _toleranceMs;
    private readonly bool _exists;

    public ReadQuorum(byte[] ns, byte[] key, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, long toleranceMs, bool exists, ActorSystem system)
    {
        if (replicas.Count == 0 || props.R < 1 || props.R > replicas.Count)
            throw new ArgumentException($"invalid get quorum: n={replicas.Count} r={props.R}");
        (_ns, _key, _replicas, _props, _toleranceMs, _exists) = (ns, key, replicas, props, toleranceMs, exists);
        _log = system.Log;
        _metrics = Metrics.KvMetrics.For(system);
    }

    public long RequestId { get; } = Random.Shared.NextInt64(1, long.MaxValue);

    public IReadOnlyList<ReplicaRef> Replicas => _replicas;

    public TimeSpan Timeout => _props.Timeout;

    /// <summary>Whether the read has answered its caller.</summary>
    public bool Replied { get; private set; }

    /// <summary>What to ask <paramref name="replica"/>.</summary>
    public object RequestFor(ReplicaRef replica) =>
        replica.IsFallback ? new Hints.HintGet(replica.Partition, _ns, _key, RequestId) : new VnodeGet(_ns, _key, RequestId) { Head = _exists };

    /// <summary>
    /// Takes a replica's answer: false when it is not one for this read (another request's, a
    /// second one from a replica). <paramref name="answer"/>: what to send the caller now (null:
    /// nothing yet); <paramref name="all"/>: every replica has answered (time to repair and stop).
    /// </summary>
    public bool Take(VnodeGetReply reply, out object? answer, out bool all)
    {
        answer = null;
        all = false;
        if (reply.RequestId != RequestId || _answers.ContainsKey(reply.Partition) || _failed.Contains(reply.Partition) || _replicas.All(r => r.Partition != reply.Partition))
            return false;
        if (reply.Error is not null)
        {
            _failed.Add(reply.Partition);
            _lastError = reply.Error;
        }
        else
        {
            _answers[reply.Partition] = reply;
        }
        all = _answers.Count + _failed.Count == _replicas.Count;
        if (!Replied)
        {
            if (Counted >= _props.R)
                answer = Finish(Result());
            else if (Failures >= FailThreshold || all)
                answer = Finish(ShortOfR());
        }
        return true;
    }

    /// <summary>The answer at the timeout (call only when not <see cref="Replied"/>).</summary>
    public object TimedOut()
    {
        var silent = _replicas.Where(r => !_answers.ContainsKey(r.Partition) && !_failed.Contains(r.Partition)).Select(r => $"partition {r.Partition} on {r.Node}");
        return Finish(new QuorumNotMet("get", Counted, _props.R, 0, 0, $"timed out after {_props.Timeout.TotalMilliseconds:0} ms; no answer from {string.Join(", ", silent)}"));
    }

    /// <summary>Answers that count toward R: values found, and not-founds when notfound_ok is on.</summary>
    private int Counted => _props.NotFoundOk ? _answers.Values.Count(a => a.Found || !a.Unsynced) : _answers.Values.Count(a => a.Found);

    /// <summary>Answers that count against R: errors, and not-founds when notfound_ok is off.</summary>
    private int Failures => _failed.Count + (_props.NotFoundOk ? 0 : _answers.Values.Count(a => !a.Found && !a.Unsynced));

    /// <summary>Not-founds of vnodes that have not filled a partition they took over: they count neither way.</summary>
    private int Abstained => _answers.Values.Count(a => !a.Found && a.Unsynced);

    /// <summary>Riak's fail threshold: R can no longer be met, or (basic_quorum) a majority failed.</summary>
    private int FailThreshold
    {
        get
        {
            int n = _replicas.Count, cannotMeetR = n - _props.R + 1;
            return _props.BasicQuorum ? Math.Min(n / 2 + 1, cannotMeetR) : cannotMeetR;
        }
    }

    /// <summary>The answer when R was not met: not found if nothing failed and nothing live was found, else the quorum error.</summary>
    private object ShortOfR()
    {
        if (_failed.Count == 0)
        {
            var (merged, _) = Merged();
            if (merged is not null)
                merged = Expiry.AsRead(merged, NowMs, _toleranceMs);
            if (merged is null || merged.Values.All(v => v.Deleted))
                return new NotFound(merged?.Join() ?? VersionVector.Empty);
            // Short only because replicas still filling could not say: what the others have is the answer.
            if (Counted + Abstained >= _props.R)
                return Result();
        }
        int found = _answers.Values.Count(a => a.Found);
        string detail = _lastError ?? $"{found} found, {_answers.Count - found} not found (notfound_ok off)";
        return new QuorumNotMet("get", Counted, _props.R, 0, 0, detail);
    }

    private object Result()
    {
        var (merged, stored) = Merged();
        if (merged is null)
            return new NotFound(VersionVector.Empty);
        // Expired values read as tombstones (in their places: the context is unchanged).
        var read = Expiry.AsRead(merged, NowMs, _toleranceMs);
        if (!ReferenceEquals(read, merged))
            (merged, stored) = (read, null);
        if (CrdtCollapsed(merged) is { } crdt)
            return crdt;
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
            _log.Warning($"{Describe()} has {merged.Size} siblings (warn above {_props.SiblingsWarn}); write with the context of a read to resolve them");
        return new GetSucceeded(merged) { Stored = stored };
    }

    /// <summary>
    /// A CRDT value (any namespace: it is known by its content type) is answered as one value, the
    /// merge of its siblings' states: siblings never show. Null for an ordinary value.
    /// </summary>
    private object? CrdtCollapsed(DvvSet<Sibling> merged)
    {
        Sibling? one;
        try
        {
            one = Crdt.CrdtValues.Collapse(merged);
        }
        catch (Exception e) when (e is FormatException or Crdt.CrdtRefusedException)
        {
            _log.Warning($"{Describe()}: its CRDT siblings do not merge ({e.Message}); answered as they are");
            return null;
        }
        return one is null ? null : new GetSucceeded(DvvSet<Sibling>.New(merged.Join(), one));
    }

    private static long NowMs => TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

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

    /// <summary>Counts and times the answer, and turns it into what the caller gets.</summary>
    private object Finish(object result)
    {
        Replied = true;
        _metrics.Request(_exists ? "exists" : "get", _metrics.Namespace(_ns), result, _startedAt);
        if (result is GetSucceeded { Object: var found })
        {
            int live = 0;
            foreach (var v in found.Values)
            {
                if (!v.Deleted)
                    live++;
            }
            _metrics.Siblings(live);
        }
        if (_exists)
        {
            result = result switch
            {
                GetSucceeded g => new ExistsResult(true, g.Context),
                NotFound nf => new ExistsResult(false, nf.Context),
                _ => result,
            };
        }
        return result;
    }

    /// <summary>Read repair, once every replica has answered or at the timeout: the merge goes to the replicas that missed it or held less.</summary>
    public void Repair(ActorSystem system)
    {
        if (_exists)
            return; // heads carry no values: nothing to repair with
        var (merged, stored) = Merged();
        if (merged is not null)
        {
            int repaired = 0;
            foreach (var replica in _replicas)
            {
                if (replica.IsFallback)
                    continue; // a fallback's hints go to the primary by hinted handoff
                if (_failed.Contains(replica.Partition))
                {
                    // It could not read the key (a damaged block: it rewrites the table): the merge of the others goes back.
                    replica.Vnode.Tell(new VnodeApply(_ns, _key, merged, Durable: false, VnodeApply.NoReply), ActorRefs.NoSender);
                    repaired++;
                    continue;
                }
                if (!_answers.TryGetValue(replica.Partition, out var answer))
                    continue;
                if (!answer.Found || (stored is null && answer.Object is { } obj && !obj.SameAs(DvvSet<Sibling>.Sync(obj, merged))))
                {
                    replica.Vnode.Tell(new VnodeApply(_ns, _key, merged, Durable: false, VnodeApply.NoReply), ActorRefs.NoSender);
                    repaired++;
                }
            }
            if (repaired > 0)
                system.EventStream.Publish(new ReadRepaired(_ns, _key, repaired));
        }
    }
}
