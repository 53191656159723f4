using System.Globalization;
using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Akka.Actor;
using Akka.Cluster;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Consistent;

/// <summary>
/// One round of linearizable operations on a key of a consistent namespace (an actor per round,
/// started by the partition's <see cref="PaxosProposer"/> with every operation queued on the key,
/// in arrival order, or by the router with one when that proposer's node is away): single-decree
/// Paxos over the key's N primaries (the acceptors), in the style of Cassandra's lightweight
/// transactions and CASPaxos, where the value chosen is the key's whole state, so one round can
/// apply several operations one after the other (a batch: each sees the state its predecessors
/// left; all of them take effect at once, when the value is chosen, and every one of them was
/// waiting for an answer then, so the order in the batch is a valid linearization):
/// <list type="number">
/// <item>prepare: a new ballot to all N; a majority must promise. A refusal (a higher ballot was
/// promised) starts a new round with a higher ballot after a short random backoff, until the deadline;</item>
/// <item>the key's value is the newest (by ballot) of the values accepted or committed among the
/// promises; an accepted value newer than every commit seen may not be chosen yet, and is finished:
/// it is the base of this operation, and proposed again even by a read;</item>
/// <item>propose: the operations' result on that value (reads, or CASes that do not match,
/// propose nothing when the value is known committed) at the ballot; a majority must accept;</item>
/// <item>commit: the chosen value to all N (not awaited), then the answers.</item>
/// </list>
/// Every propose also asks the acceptors to promise this proposer's next ballot as they accept;
/// when a majority did so and the value was chosen, the proposer hands that ballot and the value to
/// the key's next round (<see cref="Warm"/>), which skips phase 1 and proposes at once (one round
/// trip, as in Multi-Paxos and CASPaxos' one-round-trip variant); a refusal there sends it back to a
/// full round. That warm round's proposes also carry the commit of the value before it, so a busy
/// key's commits cost no messages of their own (a proposer sends them only when no round follows).
/// A value remembers the ids of the last operations applied, so a round after an accept that went
/// unanswered finds out whether each operation took effect, and never applies one twice. Without a
/// majority of the primaries reachable the operation fails at once (Unavailable). At the deadline:
/// Unavailable if nothing was proposed for it, else Indeterminate (it may or may not have been applied).
/// </summary>
public sealed class PaxosOperation : ReceiveActor, IWithTimers
{
    private const string TextPlain = "text/plain; charset=utf-8";
    /// <summary>The most operations one round applies (well below what a value remembers, <see cref="PaxosValue.MaxRecentOps"/>).</summary>
    public const int MaxBatch = 16;

    private readonly ConsistentRequest _request; // the first; every one is on its key, with its primaries
    private readonly IReadOnlyList<(ConsistentRequest Request, IActorRef ReplyTo)> _ops;
    private readonly long[] _opIds;
    private readonly bool[] _proposedOp; // each operation's result was proposed at least once: a timeout is indeterminate
    private readonly object?[] _answers;
    private readonly IReadOnlyList<(int Partition, string Node, ActorSelection Vnode)> _acceptors;
    private readonly BallotClock _clock;
    private readonly Warm? _warm;
    private Ballot _next; // promised with the accept of the current proposal
    private int _promisedNext; // acceptors that accepted the current proposal and promised _next
    private Warm? _warmAfter; // set when the proposal was chosen with _next promised by a majority: for the key's next round
    private readonly bool _parentCommits;
    private bool _chosen;
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

    /// <summary>
    /// A majority of the key's acceptors promised <paramref name="Ballot"/> as they accepted
    /// <paramref name="Value"/>, which was chosen: the key's next round may propose at that ballot,
    /// on that value, without a prepare round; <paramref name="Chosen"/> is the ballot the value was
    /// chosen at (its commit goes along with the next round's proposes).
    /// </summary>
    public sealed record Warm(Ballot Ballot, PaxosValue Value, Ballot Chosen);

    /// <summary>
    /// Sent to the parent when the round is done (all its operations answered): the key's storage
    /// identity, how many operations it ran, and (<see cref="Next"/>) what the key's next round may start from.
    /// </summary>
    public sealed record Done(string KeyId, int Count)
    {
        public Warm? Next { get; init; }

        /// <summary>The value chosen and its ballot, when the round was started to leave its commit to the parent (null: none, or already sent).</summary>
        public (Ballot Ballot, PaxosValue Value)? Chosen { get; init; }
    }

    public PaxosOperation(ConsistentRequest request, IReadOnlyList<(int Partition, string Node, ActorSelection Vnode)> acceptors, BallotClock clock, IActorRef replyTo)
        : this([(request, replyTo)], acceptors, clock, null, parentCommits: false)
    {
    }

    /// <summary>
    /// A round for 1 to <see cref="MaxBatch"/> operations on one key (<paramref name="ops"/>, with the
    /// same primaries, <paramref name="acceptors"/>), applied in their order, with ballots from
    /// <paramref name="clock"/>; <paramref name="warm"/>: where the last round on the key left it, if it
    /// left a promise for this proposer's next ballot (null: start with a prepare round);
    /// <paramref name="parentCommits"/>: the commit of the value chosen is left to the parent (it
    /// comes with <see cref="Done"/>), which sends it or lets the key's next round carry it.
    /// </summary>
    public PaxosOperation(IReadOnlyList<(ConsistentRequest Request, IActorRef ReplyTo)> ops, IReadOnlyList<(int Partition, string Node, ActorSelection Vnode)> acceptors, BallotClock clock, Warm? warm, bool parentCommits = true)
    {
        (_warm, _parentCommits) = (warm, parentCommits);
        if (ops.Count is 0 or > MaxBatch)
            throw new ArgumentException($"a round runs 1 to {MaxBatch} operations, not {ops.Count}", nameof(ops));
        (_request, _ops, _acceptors, _clock) = (ops[0].Request, ops, acceptors, clock);
        _opIds = ops.Select(_ => Random.Shared.NextInt64(1, long.MaxValue)).ToArray();
        _proposedOp = new bool[ops.Count];
        _answers = new object?[ops.Count];
        _majority = acceptors.Count / 2 + 1;
        _deadline = Environment.TickCount64 + Math.Max(1, ops.Min(o => o.Request.TimeoutMs));
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
        if (_warm is not null)
            WarmRound(_warm);
        else
            StartRound();
    }

    /// <summary>
    /// Phase 2 at once: a majority promised <see cref="Warm.Ballot"/> when they accepted the value
    /// chosen last, so none of that majority has accepted anything since; proposing there is
    /// proposing after a phase 1 that found that value. Even reads propose (the value unchanged):
    /// only a majority accepting it shows it is still the newest.
    /// </summary>
    private void WarmRound(Warm warm)
    {
        _round++;
        _requestId = Random.Shared.NextInt64(1, long.MaxValue);
        _ballot = warm.Ballot;
        _highestSeen = Ballot.Max(_highestSeen, warm.Ballot);
        _promises.Clear();
        (_refusals, _failures, _accepts, _proposing, _proposed) = (0, 0, 0, false, null);
        Array.Clear(_answers);
        Decide(warm.Value, inProgress: false, mustPropose: true);
    }

    private void StartRound()
    {
        _round++;
        _requestId = Random.Shared.NextInt64(1, long.MaxValue);
        _ballot = _clock.Next(_highestSeen);
        _promises.Clear();
        (_refusals, _failures, _accepts, _proposing, _proposed) = (0, 0, 0, false, null);
        Array.Clear(_answers);
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
        Decide((inProgress ? accepted : committed) ?? PaxosValue.Absent, inProgress, mustPropose: false);
    }

    /// <summary>The operations on the key's value <paramref name="current"/>: answered at once, or proposed.</summary>
    private void Decide(PaxosValue current, bool inProgress, bool mustPropose)
    {
        // Each operation on the state its predecessors left; one found applied by an earlier round (its accept went unanswered) changes nothing now.
        var state = current;
        bool writes = false;
        long now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        for (int i = 0; i < _ops.Count; i++)
        {
            if (_proposedOp[i] && current.Applied(_opIds[i], out long number))
            {
                _answers[i] = AlreadyApplied(_ops[i].Request.Op, current, number);
                continue;
            }
            var (answer, next) = Apply(_ops[i].Request.Op, _opIds[i], state, now);
            _answers[i] = answer;
            if (next is not null)
            {
                state = next;
                writes = true;
                _proposedOp[i] = true;
            }
        }
        if (!writes && !inProgress && !mustPropose)
        {
            // Nothing to write and the value is committed: the answers stand as they are.
            FinishAll();
            return;
        }
        // Write the operations' result, or finish the accepted value found (reads propose it as it is).
        _proposed = writes ? state : current;
        _proposing = true;
        _accepts = 0;
        _refusals = 0;
        _failures = 0;
        _next = _clock.Next(_ballot);
        _promisedNext = 0;
        foreach (var a in _acceptors)
            a.Vnode.Tell(new PaxosPropose(_request.Namespace, _request.Key, _ballot, _proposed, _requestId) { Next = _next, Commit = _warm is not null && _ballot == _warm.Ballot ? _warm.Chosen : Ballot.Zero }, Self);
        ArmRoundTimer();
    }

    /// <summary>What <paramref name="op"/> answers on <paramref name="current"/>, and the value it leaves (null: it writes nothing).</summary>
    private static (object Answer, PaxosValue? Next) Apply(ConsistentOp op, long opId, PaxosValue current, long now)
    {
        switch (op.Kind)
        {
            case ConsistentOpKind.Get:
                return (current.Present
                    ? new GetSucceeded(DvvSet<Sibling>.New(new Sibling(current.Value, current.ContentType, current.ModifiedMs, false)))
                    : new NotFound(VersionVector.Empty), null);
            case ConsistentOpKind.Put:
                return (new PutSucceeded(null, 0, 0, VersionVector.Empty), current.After(opId, 0, true, op.Value, op.ContentType, now));
            case ConsistentOpKind.Delete:
                return (new PutSucceeded(null, 0, 0, VersionVector.Empty), current.After(opId, 0, false, [], "", now));
            case ConsistentOpKind.Cas:
                bool matches = op.Expected is null ? !current.Present : current.Present && current.Value.AsSpan().SequenceEqual(op.Expected);
                return matches
                    ? (new CasReply(true, op.Value), current.After(opId, 0, true, op.Value, op.ContentType, now))
                    : (new CasReply(false, current.Present ? current.Value : null), null);
            case ConsistentOpKind.Increment:
                long value = 0;
                // A refusal writes nothing, but is answered only once the value it saw is chosen.
                if (current.Present && !long.TryParse(Encoding.UTF8.GetString(current.Value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                    return (new RequestFailed("the value of this key is not a decimal 64-bit integer: cannot increment it", FailureCode.InvalidRequest), null);
                long result;
                try
                {
                    result = checked(value + op.By);
                }
                catch (OverflowException)
                {
                    return (new RequestFailed($"the counter would overflow: {value} + {op.By} is outside {long.MinValue}..{long.MaxValue}", FailureCode.InvalidRequest), null);
                }
                byte[] text = Encoding.UTF8.GetBytes(result.ToString(CultureInfo.InvariantCulture));
                return (new UpdateSucceeded(TextPlain, text, result, 0, 0), current.After(opId, result, true, text, TextPlain, now));
            default:
                return (new RequestFailed($"unknown consistent operation {op.Kind}", FailureCode.InvalidRequest), null);
        }
    }

    /// <summary>The answer of an operation found applied by an earlier round (its accept went unanswered).</summary>
    private static object AlreadyApplied(ConsistentOp op, PaxosValue current, long number)
    {
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
            if (a.Promised == _next)
                _promisedNext++;
        }
        if (_accepts >= _majority)
        {
            // Chosen: tell every acceptor (not awaited), then answer.
            _chosen = true;
            if (!_parentCommits)
            {
                foreach (var acceptor in _acceptors)
                    acceptor.Vnode.Tell(new PaxosCommit(_request.Namespace, _request.Key, _ballot, _proposed!), Self);
            }
            _warmAfter = _promisedNext >= _majority ? new Warm(_next, _proposed!, _ballot) : null;
            for (int i = 0; i < _answers.Length; i++)
            {
                _answers[i] = _answers[i] switch
                {
                    PutSucceeded => new PutSucceeded(null, _accepts, _accepts, VersionVector.Empty),
                    UpdateSucceeded u => u with { Acks = _accepts, DurableAcks = _accepts },
                    var other => other,
                };
            }
            FinishAll();
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
        string detail = _lastError is null ? "" : $" (last: {_lastError})";
        long timeout = _ops.Min(o => o.Request.TimeoutMs);
        for (int i = 0; i < _ops.Count; i++)
        {
            _answers[i] = _proposedOp[i]
                ? new RequestFailed($"timed out after {timeout} ms after the operation was proposed: it may or may not have been applied{detail}", FailureCode.Indeterminate)
                : new RequestFailed($"unavailable: no majority of the key's {_acceptors.Count} primaries answered within {timeout} ms; nothing was applied{detail}", FailureCode.Unavailable);
        }
        FinishAll();
    }

    /// <summary>Stopped before it answered (a failure: the parent stops failed operations rather than restart them with new ids).</summary>
    protected override void PostStop()
    {
        if (_finished)
            return;
        _finished = true;
        for (int i = 0; i < _ops.Count; i++)
        {
            _ops[i].ReplyTo.Tell(_proposedOp[i]
                ? new RequestFailed("the operation failed after it was proposed: it may or may not have been applied", FailureCode.Indeterminate)
                : new RequestFailed("the operation failed before anything was proposed; nothing was applied", FailureCode.Unavailable), ActorRefs.NoSender);
        }
        Context.Parent.Tell(new Done(KeyId(_request.Namespace, _request.Key), _ops.Count), ActorRefs.NoSender);
    }

    /// <summary>Every operation answered with <paramref name="answer"/>.</summary>
    private void Finish(object answer)
    {
        Array.Fill(_answers, answer);
        FinishAll();
    }

    /// <summary>Each operation answered with its own answer (<see cref="_answers"/>).</summary>
    private void FinishAll()
    {
        if (_finished)
            return;
        _finished = true;
        for (int i = 0; i < _ops.Count; i++)
            _ops[i].ReplyTo.Tell(_answers[i] ?? new RequestFailed("the operation ended without an answer"), ActorRefs.NoSender);
        Context.Parent.Tell(new Done(KeyId(_request.Namespace, _request.Key), _ops.Count)
        {
            Next = _warmAfter,
            Chosen = _chosen && _parentCommits ? (_ballot, _proposed!) : null,
        }, Self);
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
