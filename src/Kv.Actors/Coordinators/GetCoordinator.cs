using Akka.Actor;
using Kv.Actors.Vnode;

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
    private readonly ReadQuorum _read;
    private readonly IActorRef _replyTo;

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
        _read = new ReadQuorum(ns, key, replicas, props, ttlToleranceMs, exists, Context.System);
        _replyTo = replyTo;
        Receive<VnodeGetReply>(OnReply);
        Receive<Timeout>(_ => OnTimeout());
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer(Timeout.Instance, Timeout.Instance, _read.Timeout);
        foreach (var replica in _read.Replicas)
            replica.Vnode.Tell(_read.RequestFor(replica), Self);
    }

    private void OnReply(VnodeGetReply reply)
    {
        if (!_read.Take(reply, out var answer, out bool all))
            return;
        if (answer is not null)
            _replyTo.Tell(answer, Self);
        if (all)
            RepairAndStop();
    }

    private void OnTimeout()
    {
        if (!_read.Replied)
            _replyTo.Tell(_read.TimedOut(), Self);
        RepairAndStop();
    }

    private void RepairAndStop()
    {
        _read.Repair(Context.System);
        Context.Stop(Self);
    }
}
