using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.Event;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One read (an actor per request): asks all N replicas, answers after R (notfound_ok: a not-found
/// counts toward R), merging the versions it got (dominated ones drop out; concurrent ones stay as siblings, or the newest one
/// wins in a last_write_wins namespace). Then it waits for the remaining replicas until the
/// timeout and sends the merged object to every replica that was missing it or held less (read
/// repair). Then it stops. Answers are matched by partition, so a reply forwarded by a vnode that
/// has handed its partition off still counts.
/// <para>
/// Failures end a read early, as in Riak's get core: errors, and not-founds when notfound_ok is
/// off, reaching N - R + 1 (R can no longer be met) or, with basic_quorum, a majority of N
/// (whichever is smaller). A read answers once all N have answered, whatever they said. An answer
/// short of R is not found when there were no errors and nothing live was found, else
/// <see cref="QuorumNotMet"/>. A not-found from a vnode that has not yet filled a partition it
/// took over without data (<see cref="VnodeGetReply.Unsynced"/>) counts neither toward R nor
/// against it; when only such answers keep a read short of R, the values the others found are the
/// answer (and read repair gives them to the unsynced replicas).
/// </para>
/// <para>
/// A fallback (sloppy quorum: the primary's node is away) is asked for what its hint store holds for
/// the key: a value counts toward R, a not-found abstains (like an unsynced vnode), and it is not
/// read-repaired (hinted handoff gives its hints to the primary). A fallback answers for the
/// partition it stands in for, so answers stay matched by partition, one replica per partition.
/// </para>
/// </summary>
public sealed class GetCoordinator : ReceiveActor, IWithTimers
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly IReadOnlyList<ReplicaRef> _replicas;
    private readonly NamespaceProps _props;
    private readonly IActorRef _replyTo;
    private readonly Metrics.KvMetrics _metrics = Metrics.KvMetrics.For(Context.System);
    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly long _requestId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly Dictionary<int, VnodeGetReply> _answers = [];
    private readonly HashSet<int> _failed = [];
    private bool _replied;
    private string? _lastError;
    private readonly long _toleranceMs;
    private readonly bool _exists;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    /// <param name="ns">The namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="replicas">The key's replicas (primaries, or fallbacks in their place).</param>
    /// <param name="props">The namespace's settings with the request's overrides.</param>
    /// <param name="replyTo">Who gets the answer.</param>
    /// <param name="ttlToleranceMs">kv.ttl.clock-skew-tolerance: a value counts as expired this long before its expiry.</param>
    /// <param name="exists">An exists read: heads from the vnodes, an <see cref="ExistsResult"/> answer, no read repair.</param>
    public GetCoordinator(byte[] ns, byte[] key, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, IActorRef replyTo, long ttlToleranceMs = 0, bool exists = false)
    {
        if (replicas.Count == 0 || props.R < 1 || props.R > replicas.Count)
            throw new ArgumentException($"invalid get quorum: n={replicas.Count} r={props.R}");
        (_ns, _key, _replicas, _props, _replyTo, _toleranceMs, _exists) = (ns, key, replicas, props, replyTo, ttlToleranceMs, exists);
        Receive<VnodeGetReply>(OnReply);
        Receive<Timeout>(_ => OnTimeout());
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer(Timeout.Instance, Timeout.Instance, _props.Timeout);
        foreach (var replica in _replicas)
            replica.Vnode.Tell(replica.IsFallback ? new Hints.HintGet(replica.Partition, _ns, _key, _requestId) : new VnodeGet(_ns, _key, _requestId) { Head = _exists }, Self);
    }

    private void OnReply(VnodeGetReply reply)
    {
        if (reply.RequestId != _requestId || _answers.ContainsKey(reply.Partition) || _failed.Contains(reply.Partition) || _replicas.All(r => r.Partition != reply.Partition))
            return;
        if (reply.Error is not null)
        {
            _failed.Add(reply.Partition);
            _lastError = reply.Error;
        }
        else
        {
            _answers[reply.Partition] = reply;
        }
        bool all = _answers.Count + _failed.Count == _replicas.Count;
        if (!_replied)
        {
            if (Counted >= _props.R)
                Reply(Result());
            else if (Failures >= FailThreshold || all)
                Reply(ShortOfR());
        }
        if (all)
            RepairAndStop();
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
            Context.System.Log.Warning($"{Describe()} has {merged.Size} siblings (warn above {_props.SiblingsWarn}); write with the context of a read to resolve them");
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
            Context.System.Log.Warning($"{Describe()}: its CRDT siblings do not merge ({e.Message}); answered as they are");
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

    private void Reply(object result)
    {
        _replied = true;
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
        _replyTo.Tell(result, Self);
    }

    private void OnTimeout()
    {
        if (!_replied)
        {
            var silent = _replicas.Where(r => !_answers.ContainsKey(r.Partition) && !_failed.Contains(r.Partition)).Select(r => $"partition {r.Partition} on {r.Node}");
            Reply(new QuorumNotMet("get", Counted, _props.R, 0, 0, $"timed out after {_props.Timeout.TotalMilliseconds:0} ms; no answer from {string.Join(", ", silent)}"));
        }
        RepairAndStop();
    }

    private void RepairAndStop()
    {
        if (_exists)
        {
            Context.Stop(Self); // heads carry no values: nothing to repair with
            return;
        }
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
                Context.System.EventStream.Publish(new ReadRepaired(_ns, _key, repaired));
        }
        Context.Stop(Self);
    }
}
