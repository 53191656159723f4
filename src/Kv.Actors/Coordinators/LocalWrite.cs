using Kv.Actors.Objects;
using Akka.Actor;
using Akka.Dispatch.SysMsg;

namespace Kv.Actors.Coordinators;

/// <summary>
/// A write whose replicas are all vnodes of this node (a namespace with n_val = 1 coordinated where
/// its key lives, or a one-node cluster), run without an actor per request, as
/// <see cref="LocalRead"/> runs a read: a temporary ref is the sender of the vnode messages and
/// runs the same rules as a <see cref="PutCoordinator"/> (<see cref="WriteQuorum"/>) as the answers
/// arrive, one at a time. It ends once it has answered (or no further answer is expected), or at the namespace timeout.
/// </summary>
internal sealed class LocalWrite : TemporaryRef, IExpiring
{
    private WriteQuorum? _write; // (both let go when it ends: a vnode's commit callback holds this ref until its fsync)
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private IActorRef? _replyTo;
    private readonly IActorRef _router;
    private readonly object _gate = new();
    private volatile bool _ended;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    private LocalWrite(WriteQuorum write, byte[] ns, byte[] key, IActorRef replyTo, IActorRef router, IActorRefProvider provider)
        : base(provider) =>
        (_write, _ns, _key, _replyTo, _router) = (write, ns, key, replyTo, router);

    /// <summary>When the namespace timeout ends it (<see cref="RequestDeadlines"/>).</summary>
    public long Deadline { get; private set; }

    public bool Ended => _ended;

    public void Expire() => TellInternal(Timeout.Instance, ActorRefs.NoSender!);

    public override bool IsTerminated => _ended;

    /// <summary>Starts a write (see <see cref="PutCoordinator"/> for the parameters); <paramref name="router"/> hears of a delete that succeeded.</summary>
    public static void Start(ActorSystem system, IActorRef router, byte[] ns, byte[] key, VersionVector context, Sibling value, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props,
        IActorRef replyTo, bool returnBody, long ttlToleranceMs)
    {
        var write = new WriteQuorum(ns, key, context, value, replicas, props, returnBody, ttlToleranceMs, system);
        var self = new LocalWrite(write, ns, key, replyTo, router, ((ExtendedActorSystem)system).Provider);
        self.Deadline = Environment.TickCount64 + (long)props.Timeout.TotalMilliseconds;
        RequestDeadlines.Watch(self); // (not a scheduled message: see RequestDeadlines)
        write.Start(self);
    }

    protected override void TellInternal(object message, IActorRef sender)
    {
        lock (_gate)
        {
            if (_ended)
                return;
            var write = _write!;
            var replyTo = _replyTo!;
            switch (message)
            {
                case Vnode.VnodePutReply reply:
                    write.Take(reply, this, out var answer, out bool stop);
                    if (answer is not null)
                    {
                        if (write.TombstoneWritten)
                            _router.Tell(new TombstoneWritten(_ns, _key), this);
                        replyTo.Tell(answer, this);
                    }
                    // Answered: later replies change nothing (they are only counted until then), so
                    // the write ends now rather than hold its state until the last durable ack,
                    // which in interval sync mode comes with the next fsync, up to a second later.
                    if (stop || write.Finished)
                        End();
                    break;
                case Timeout:
                    if (write.TimedOut() is { } late)
                        replyTo.Tell(late, this);
                    End();
                    break;
            }
        }
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
    }

    private void End()
    {
        _ended = true;
        _write = null;
        _replyTo = null;
        Close();
    }
}
