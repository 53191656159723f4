using Kv.Cluster.Dispatch;

namespace Kv.Cluster.Actor;

/// <summary>A ref to an actor in this process. Equality is identity: each incarnation is its own ref.</summary>
public sealed class LocalActorRef : InternalActorRef
{
    internal LocalActorRef(ActorCell cell, ActorPath path)
    {
        Cell = cell;
        Path = path;
    }

    internal ActorCell Cell { get; }

    /// <inheritdoc />
    public override ActorPath Path { get; }

    /// <inheritdoc />
    public override bool IsLocal => true;

    /// <summary>True once the actor has fully stopped.</summary>
    public bool IsTerminated => Cell.IsTerminated;

    /// <inheritdoc />
    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        Cell.Mailbox.Post(new Envelope(message, sender));
    }

    /// <summary>
    /// Sends and, when the actor has a bounded mailbox, waits asynchronously for room instead of
    /// blocking (back-pressure for producers outside actors).
    /// </summary>
    public ValueTask SendAsync(object message, IActorRef? sender, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Cell.Mailbox.PostAsync(new Envelope(message, sender), cancellationToken);
    }

    internal override ActorSystem? OwningSystem => Cell.System;

    internal override void SendSystemMessage(SystemMessage message) => Cell.SendSystemMessage(message);
}
