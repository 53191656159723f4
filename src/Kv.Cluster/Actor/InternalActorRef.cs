using Kv.Cluster.Dispatch;

namespace Kv.Cluster.Actor;

/// <summary>The runtime side of every actor ref: user messages plus the system-message channel.</summary>
public abstract class InternalActorRef : IActorRef
{
    /// <inheritdoc />
    public abstract ActorPath Path { get; }

    /// <summary>True for refs whose actor lives in this process.</summary>
    public abstract bool IsLocal { get; }

    /// <inheritdoc />
    public abstract void Tell(object message, IActorRef? sender);

    /// <summary>Delivers a system message (watch, failure, stop...). Never throws.</summary>
    internal abstract void SendSystemMessage(SystemMessage message);

    /// <summary>The system this ref was made by.</summary>
    internal abstract ActorSystem? OwningSystem { get; }

    /// <summary>Stops the actor (asynchronously).</summary>
    public virtual void Stop() => SendSystemMessage(new Terminate());

    /// <inheritdoc />
    public override string ToString() => $"Actor[{Path}]";
}
