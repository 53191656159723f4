using Kv.Cluster.Dispatch;
using Kv.Cluster.Event;

namespace Kv.Cluster.Actor;

/// <summary>
/// What a path resolves to when nothing lives there: messages go to dead letters, Identify gets an
/// empty answer, and a Watch gets Terminated at once.
/// </summary>
public sealed class EmptyLocalActorRef : InternalActorRef
{
    private readonly ActorSystem _system;

    internal EmptyLocalActorRef(ActorSystem system, ActorPath path)
    {
        _system = system;
        Path = path;
    }

    /// <inheritdoc />
    public override ActorPath Path { get; }

    /// <inheritdoc />
    public override bool IsLocal => true;

    /// <inheritdoc />
    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message is Identify identify)
        {
            sender?.Tell(new ActorIdentity(identify.MessageId, null), this);
            return;
        }
        _system.DeadLetters.Tell(new DeadLetter(message, sender, this), sender);
    }

    internal override ActorSystem? OwningSystem => _system;

    internal override void SendSystemMessage(SystemMessage message)
    {
        if (message is Watch w && w.Watcher is InternalActorRef watcher)
            watcher.SendSystemMessage(new DeathWatchNotification(this, existenceConfirmed: false, addressTerminated: false));
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is EmptyLocalActorRef other && other.Path.Equals(Path);

    /// <inheritdoc />
    public override int GetHashCode() => Path.GetHashCode();
}
