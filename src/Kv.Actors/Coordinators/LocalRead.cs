using Akka.Actor;
using Akka.Dispatch.SysMsg;

namespace Kv.Actors.Coordinators;

/// <summary>
/// A read whose replicas are all vnodes of this node (a namespace with n_val = 1 coordinated where
/// its key lives, or a one-node cluster), run without an actor per request: a temporary ref (as
/// Akka's ask makes one, <see cref="TemporaryRef"/>) is the sender of the vnode requests and runs the same rules as a
/// <see cref="GetCoordinator"/> (<see cref="ReadQuorum"/>) as the answers arrive, on the threads
/// that send them, one at a time. Creating and stopping a coordinator actor (its cell, mailbox,
/// handlers and the router's children) cost more than the read itself. A vnode that forwards
/// the request elsewhere (a handoff) sends its path, which registers it as a temporary actor until
/// it ends, so it is answered through the network as a coordinator would be; it ends once every replica has
/// answered, or at the namespace timeout (then it answers as a coordinator does and repairs).
/// </summary>
internal sealed class LocalRead : TemporaryRef, IExpiring
{
    private readonly ReadQuorum _read;
    private readonly IActorRef _replyTo;
    private readonly ActorSystem _system;
    private readonly object _gate = new();
    private volatile bool _ended;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    private LocalRead(ReadQuorum read, IActorRef replyTo, ActorSystem system)
        : base(((ExtendedActorSystem)system).Provider) =>
        (_read, _replyTo, _system) = (read, replyTo, system);

    /// <summary>When the namespace timeout ends it (<see cref="RequestDeadlines"/>).</summary>
    public long Deadline { get; private set; }

    public bool Ended => _ended;

    public void Expire() => TellInternal(Timeout.Instance, ActorRefs.NoSender!);

    /// <summary>Starts a read (see <see cref="GetCoordinator"/> for the parameters).</summary>
    public static void Start(ActorSystem system, byte[] ns, byte[] key, IReadOnlyList<ReplicaRef> replicas, NamespaceProps props, IActorRef replyTo, long ttlToleranceMs, bool exists)
    {
        var read = new ReadQuorum(ns, key, replicas, props, ttlToleranceMs, exists, system);
        var self = new LocalRead(read, replyTo, system);
        self.Deadline = Environment.TickCount64 + (long)props.Timeout.TotalMilliseconds;
        RequestDeadlines.Watch(self); // (not a scheduled message: see RequestDeadlines)
        foreach (var replica in replicas)
            replica.Vnode.Tell(read.RequestFor(replica), self);
    }

    protected override void TellInternal(object message, IActorRef sender)
    {
        lock (_gate)
        {
            if (_ended)
                return;
            switch (message)
            {
                case Vnode.VnodeGetReply reply:
                    if (!_read.Take(reply, out var answer, out bool all))
                        return;
                    if (answer is not null)
                        _replyTo.Tell(answer, this);
                    if (all)
                        End();
                    break;
                case Timeout:
                    if (!_read.Replied)
                        _replyTo.Tell(_read.TimedOut(), this);
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
        Close();
        _read.Repair(_system);
    }

    public override bool IsTerminated => _ended;
}
