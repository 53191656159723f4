using System.Globalization;
using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Akka.Actor;
using Akka.Cluster;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Consistent;

/// <summary>
/// One linearizable operation on a key of a consistent namespace (an actor per operation, started
/// by the partition's <see cref="PaxosProposer"/>, or by the router when that proposer's node is
/// away): single-decree Paxos over the key's N primaries (the acceptors), in the style of
/// Cassandra's lightweight transactions and CASPaxos:
/// <list type="number">
/// <item>prepare: a new ballot to all N; a majority must promise. A refusal (a higher ballot was
/// promised) starts a new round with a higher ballot after a short random backoff, until the deadline;</item>
/// <item>the key's value is the newest (by ballot) of the values accepted or committed among the
/// promises; an accepted value newer than every commit seen may not be chosen yet, and is finished:
/// it is the base of this operation, and proposed again even by a read;</item>
/// <item>propose: the operation's result on that value (a read, or a CAS that does not match,
/// proposes nothing when the value is known committed) at the ballot; a majority must accept;</item>
/// <item>commit: the chosen value to all N (not awaited), then the answer.</item>
/// </list>
/// A value remembers the ids of the last operations applied, so a round after an accept that went
/// unanswered finds out whether this operation took effect, and never applies it twice. Without a
/// majority of the primaries reachable the operation fails at once (Unavailable). At the deadline:
/// Unavailable if nothing was proposed for it, else Indeterminate (it may or may not have been applied).
/// </summary>
public sealed class PaxosOperation : ReceiveActor, IWithTimers
{
    private const string TextPlain = "text/plain; charset=utf-8";
    private readonly ConsistentRequest _request;
    private readonly IReadOnlyList<(int Partition, string Node, ActorSelection Vnode)> _acceptors;
    private readonly BallotClock _clock;
    private readonly IActorRef _replyTo;
    private readonly long _opId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly int _majority;
    private readonly long _deadline;
    private int _round;
    private long _requestId;
    private Ballot _ballot;
    private Ballot _highestSeen = Ballot.Zero;
    private readonly List<PaxosPromise> _promises = [];
    private int _refusals;
    private int _failures;
    private bool _proposing;
    private int _accepts;
    private PaxosValue? _proposed;
    private object? _answer;
    private bool _proposedOwnOp; // this operation's result was proposed at least once: a timeout is indeterminate
    private string? _lastError;
    private bool _finished;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed record RoundTimeout(int Round);

    private sealed record NextRound(int Round);

    private sealed class Deadline
    {
        public static readonly Deadline Instance = new();
    }

    /// <summary>Sent to the parent when the operation is done (answered), with the key's storage identity.</summary>
    public sealed record Done(string KeyId);

    public PaxosOperation(ConsistentRequest request, IReadOnlyList<(int Partition, string Node, ActorSelection Vnode)> acceptors, BallotClock clock, IActorRef replyTo)
    {
        (_request, _acceptors, _clock, _replyTo) = (request, acceptors, clock, replyTo);
        _majority = acceptors.Count / 2 + 1;
        _deadline = Environment.TickCount64 + Math.Max(1, request.TimeoutMs);
        Receive<PaxosPromise>(OnPromise);
        Receive<PaxosAccepted>(OnAccepted);
        Receive<RoundTimeout>(t =>
        {
            if (t.Round == _round && !_finished)
            {
                _lastError ??= "acceptors did not answer in time";
                Retry();
            }
        });
        Receive<NextRound>(n =>
        {
            if (n.Round == _round && !_finished)
                StartRound();
        });
        Receive<Deadline>(_ => TimedOut());
        Receive<Linger>(_ => Context.Stop(Self));
    }

    /// <summary>The key's identity for the per-key queue of a proposer.</summary>
    public static string KeyId(byte[] ns, byte[] key) => Convert.ToHexString(ns) + "/" + Convert.ToHexString(key);

    /// <summary>How many of <paramref name="primaries"/> are on reachable members (not down), as <paramref name="system"/> sees the cluster.</summary>
    public static int ReachablePrimaries(ActorSystem system, IEnumerable<(int Partition, string Node)> primaries)
    {
        var state = ClusterExt.Get(system).State;
        int n = 0;
        foreach (var (_, node) in primaries)
        {
            bool member = state.Members.Any(m => m.Address.ToString() == node && m.Status is not (MemberStatus.Down or MemberStatus.Removed));
            bool reachable = !state.Unreachable.Any(m => m.Address.ToString() == node);
            if (member && reachable)
                n++;
        }
        return n;
    }

    protected override void PreStart()
    {
        int reachable = ReachablePrimaries(Context.System, _acceptors.Select(a => (a.Partition, a.Node)));
        if (reachable < _majority)
        {
            Finish(new RequestFailed($"unavailable: only {reachable} of the key's {_acceptors.Count} primaries are reachable; a consistent operation needs a majority ({_majority})", FailureCode.Unavailable));
            return;
        }
        Timers.StartSingleTimer(Deadline.Instance, Deadline.Instance, TimeSpan.FromMilliseconds(Math.Max(1, _deadline - Environment.TickCount64)));
        StartRound();
    }

    private void StartRound()
    {
        _round++;
        _requestId = Random.Shared.NextInt64(1, long.MaxValue);
        _ballot = _clock.Next(_highestSeen);
        _promises.Clear();
        (_refusals, _failures, _accepts, _proposing, _proposed, _answer) = (0, 0, 0, false, null, null);
        foreach (var a in _acceptors)
            a.Vnode.Tell(new PaxosPrepare(_request.Namespace, _request.Key, _ballot, _requestId), Self);
        ArmRoundTimer();
    }

    private void ArmRoundTimer()
    {
        long left = _deadline - Environment.TickCount64;
        Timers.StartSingleTimer("round", new RoundTimeout(_round), TimeSpan.FromMilliseconds(Math.Clamp(left, 1, 1000)));
    }

    private void OnPromise(PaxosPromise p)
    {
        if (p.RequestId != _requestId || _proposing)
            return;
        if (_finished)
        {
            OneMoreAnswer();
            return;
        }
        if (p.Error is not null)
        {
            _lastError = p.Error;
            _failures++;
        }
        else if (!p.Ok)
        {
            _highestSeen = Ballot.Max(_highestSeen, p.Promised);
            _lastError = $"a higher ballot was promised ({p.Promised})";
            _refusals++;
        }
        else
        {
            _promises.Add(p);
        }
        if (_promises.Count >= _majority)
        {
            Promised();
            return;
        }
        if (_acceptors.Count - _refusals - _failures < _majority)
            Retry();
    }

    /// <summary>A majority promised: work out the key's value and what to propose.</summary>
    private void Promised()
    {
        PaxosValue? accepted = null, committed = null;
        Ballot acceptedBallot = Ballot.Zero, committedBallot = Ballot.Zero;
        foreach (var p in _promises)
        {
            if (p.Accepted is not null && p.AcceptedBallot > acceptedBallot)
                (accepted, acceptedBallot) = (p.Accepted, p.AcceptedBallot);
            if (p.Committed is not null && p.CommittedBallot > committedBallot)
                (committed, committedBallot) = (p.Committed, p.CommittedBallot);
        }
        bool inProgress = accepted is not null && acceptedBallot > committedBallot;
        var current = (inProgress ? accepted : committed) ?? PaxosValue.Absent;

        object answer;
        PaxosValue? next = null; // null: nothing of this operation to write
        if (_proposedOwnOp && current.Applied(_opId, out long number))
        {
            answer = AlreadyApplied(current, number);
        }
        else
        {
            var op = _request.Op;
            long now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
            switch (op.Kind)
            {
                case ConsistentOpKind.Get:
                    answer = current.Present
                        ? new GetSucceeded(DvvSet<Sibling>.New(new Sibling(current.Value, current.ContentType, current.ModifiedMs, false)))
                        : new NotFound(VersionVector.Empty);
                    break;
                case ConsistentOpKind.Put:
                    next = current.After(_opId, 0, true, op.Value, op.ContentType, now);
                    answer = new PutSucceeded(null, 0, 0, VersionVector.Empty);
                    break;
                case ConsistentOpKind.Delete:
                    next = current.After(_opId, 0, false, [], "", now);
                    answer = new PutSucceeded(null, 0, 0, VersionVector.Empty);
                    break;
                case ConsistentOpKind.Cas:
                    bool matches = op.Expected is null ? !current.Present : current.Present && current.Value.AsSpan().SequenceEqual(op.Expected);
                    if (matches)
                    {
                        next = current.After(_opId, 0, true, op.Value, op.ContentType, now);
                        answer = new CasReply(true, op.Value);
                    }
                    else
                    {
                        answer = new CasReply(false, current.Present ? current.Value : null);
                    }
                    break;
                case ConsistentOpKind.Increment:
                    long value = 0;
                    // A refusal writes nothing, but is answered only once the value it saw is chosen (below).
                    if (current.Present && !long.TryParse(Encoding.UTF8.GetString(current.Value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                    {
                        answer = new RequestFailed("the value of this key is not a decimal 64-bit integer: cannot increment it", FailureCode.InvalidRequest);
                        break;
                    }
                    long result;
                    try
                    {
                        result = checked(value + op.By);
                    }
                    catch (OverflowException)
                    {
                        answer = new RequestFailed($"the counter would overflow: {value} + {op.By} is outside {long.MinValue}..{long.MaxValue}", FailureCode.InvalidRequest);
                        break;
                    }
                    byte[] text = Encoding.UTF8.GetBytes(result.ToString(CultureInfo.InvariantCulture));
                    next = current.After(_opId, result, true, text, TextPlain, now);
                    answer = new UpdateSucceeded(TextPlain, text, result, 0, 0);
                    break;
                default:
                    Finish(new RequestFailed($"unknown consistent operation {op.Kind}"));
                    return;
            }
        }
        if (next is null && !inProgress)
        {
            // Nothing to write and the value is committed: the answer stands as it is.
            Finish(answer);
            return;
        }
        // Write this operation's result, or finish the accepted value found (a read proposes it as it is).
        _proposed = next ?? current;
        _proposedOwnOp |= next is not null;
        _answer = answer;
        _proposing = true;
        _accepts = 0;
        _refusals = 0;
        _failures = 0;
        foreach (var a in _acceptors)
            a.Vnode.Tell(new PaxosPropose(_request.Namespace, _request.Key, _ballot, _proposed, _requestId), Self);
        ArmRoundTimer();
    }

    /// <summary>The answer of this operation, found applied by an earlier round (its accept went unanswered).</summary>
    private object AlreadyApplied(PaxosValue current, long number)
    {
        var op = _request.Op;
        return op.Kind switch
        {
            ConsistentOpKind.Put or ConsistentOpKind.Delete => new PutSucceeded(null, 0, 0, VersionVector.Empty),
            ConsistentOpKind.Cas => new CasReply(true, op.Value),
            ConsistentOpKind.Increment => new UpdateSucceeded(TextPlain, Encoding.UTF8.GetBytes(number.ToString(CultureInfo.InvariantCulture)), number, 0, 0),
            _ => current.Present ? new GetSucceeded(DvvSet<Sibling>.New(new Sibling(current.Value, current.ContentType, current.ModifiedMs, false))) : new NotFound(VersionVector.Empty),
        };
    }

    private void OnAccepted(PaxosAccepted a)
    {
        if (a.RequestId != _requestId || !_proposing)
            return;
        if (_finished)
        {
            OneMoreAnswer();
            return;
        }
        if (a.Error is not null)
        {
            _lastError = a.Error;
            _failures++;
        }
        else if (!a.Ok)
        {
            _highestSeen = Ballot.Max(_highestSeen, a.Promised);
            _lastError = $"a higher ballot was promised ({a.Promised})";
            _refusals++;
        }
        else
        {
            _accepts++;
        }
        if (_accepts >= _majority)
        {
            // Chosen: tell every acceptor (not awaited), then answer.
            foreach (var acceptor in _acceptors)
                acceptor.Vnode.Tell(new PaxosCommit(_request.Namespace, _request.Key, _ballot, _proposed!), Self);
            Finish(_answer switch
            {
                PutSucceeded => new PutSucceeded(null, _accepts, _accepts, VersionVector.Empty),
                UpdateSucceeded u => u with { Acks = _accepts, DurableAcks = _accepts },
                var other => other!,
            });
            return;
        }
        if (_acceptors.Count - _refusals - _failures < _majority)
            Retry();
    }

    /// <summary>This round cannot succeed: another one, with a higher ballot, after a short random backoff.</summary>
    private void Retry()
    {
        _requestId = 0; // answers to this round are ignored from here on
        _proposing = false;
        Timers.Cancel("round");
        int backoff = Random.Shared.Next(2, 20) * Math.Min(_round, 10);
        if (Environment.TickCount64 + backoff >= _deadline)
        {
            TimedOut();
            return;
        }
        Timers.StartSingleTimer("next", new NextRound(_round), TimeSpan.FromMilliseconds(backoff));
    }

    private void TimedOut()
    {
        if (_finished)
            return;
        bool writes = _request.Op.Kind != ConsistentOpKind.Get;
        string detail = _lastError is null ? "" : $" (last: {_lastError})";
        Finish(_proposedOwnOp && writes
            ? new RequestFailed($"timed out after {_request.TimeoutMs} ms after the operation was proposed: it may or may not have been applied{detail}", FailureCode.Indeterminate)
            : new RequestFailed($"unavailable: no majority of the key's {_acceptors.Count} primaries answered within {_request.TimeoutMs} ms; nothing was applied{detail}", FailureCode.Unavailable));
    }

    /// <summary>Stopped before it answered (a failure: the parent stops failed operations rather than restart them with a new id).</summary>
    protected override void PostStop()
    {
        if (_finished)
            return;
        _finished = true;
        _replyTo.Tell(_proposedOwnOp
            ? new RequestFailed("the operation failed after it was proposed: it may or may not have been applied", FailureCode.Indeterminate)
            : new RequestFailed("the operation failed before anything was proposed; nothing was applied", FailureCode.Unavailable), ActorRefs.NoSender);
        Context.Parent.Tell(new Done(KeyId(_request.Namespace, _request.Key)), ActorRefs.NoSender);
    }

    private void Finish(object answer)
    {
        if (_finished)
            return;
        _finished = true;
        _replyTo.Tell(answer, ActorRefs.NoSender);
        Context.Parent.Tell(new Done(KeyId(_request.Namespace, _request.Key)), Self);
        // The answers still due from the last phase are awaited (briefly), not left as dead letters.
        _answeredAfter = _requestId == 0 ? _acceptors.Count : (_proposing ? _accepts : _promises.Count) + _refusals + _failures;
        if (_answeredAfter >= _acceptors.Count)
        {
            Context.Stop(Self);
            return;
        }
        Timers.CancelAll();
        Timers.StartSingleTimer("linger", Linger.Instance, TimeSpan.FromSeconds(2));
    }

    private int _answeredAfter;

    private sealed class Linger
    {
        public static readonly Linger Instance = new();
    }

    /// <summary>One more answer of the last phase after the end; stops when all have come.</summary>
    private void OneMoreAnswer()
    {
        if (++_answeredAfter >= _acceptors.Count)
            Context.Stop(Self);
    }
}
