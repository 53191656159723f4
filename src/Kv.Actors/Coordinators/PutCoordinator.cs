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
    private readonly WriteQuorum _write;
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly IActorRef _replyTo;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

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
        _write = new WriteQuorum(ns, key, context, value, replicas, props, returnBody, ttlToleranceMs, Context.System);
        (_ns, _key, _replyTo) = (ns, key, replyTo);
        Receive<VnodePutReply>(OnReply);
        Receive<Timeout>(_ =>
        {
            if (_write.TimedOut() is { } answer)
                _replyTo.Tell(answer, Self);
            Context.Stop(Self);
        });
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer(Timeout.Instance, Timeout.Instance, _write.Timeout);
        _write.Start(Self);
    }

    private void OnReply(VnodePutReply reply)
    {
        _write.Take(reply, Self, out var answer, out bool stop);
        if (stop)
            Context.Stop(Self); // after this message: nothing more will come
        if (answer is null)
            return;
        if (_write.TombstoneWritten)
            Context.Parent.Tell(new TombstoneWritten(_ns, _key), Self);
        _replyTo.Tell(answer, Self);
    }
}

/// <summary>To the coordinator's parent: a delete succeeded; the tombstone may be reaped after the grace period.</summary>
public sealed record TombstoneWritten(byte[] Namespace, byte[] Key);
