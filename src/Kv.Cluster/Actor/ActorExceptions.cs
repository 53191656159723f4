namespace Kv.Cluster.Actor;

/// <summary>Base of the runtime's exceptions.</summary>
public class ActorException : Exception
{
    public ActorException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}

/// <summary>An actor's constructor or PreStart threw; the default supervisor stops such an actor.</summary>
public sealed class ActorInitializationException(IActorRef? actor, string message, Exception? inner)
    : ActorException(message, inner)
{
    public IActorRef? Actor { get; } = actor;
}

/// <summary>The actor received <see cref="Kill"/>.</summary>
public sealed class ActorKilledException(string message) : ActorException(message);

/// <summary>An actor received <see cref="Terminated"/> for a watched actor and did not handle it.</summary>
public sealed class DeathPactException(IActorRef dead)
    : ActorException($"Monitored actor {dead} terminated and the watcher did not handle Terminated")
{
    public IActorRef DeadActor { get; } = dead;
}

/// <summary>An <c>Ask</c> got no reply in time.</summary>
public sealed class AskTimeoutException(string message) : ActorException(message);

/// <summary>A child name is invalid or already taken.</summary>
public sealed class InvalidActorNameException(string message) : ActorException(message);

/// <summary>A message could not be sent: too large for a frame, no serializer, or the system is shutting down.</summary>
public sealed class MessageRejectedException(string message, Exception? inner = null) : ActorException(message, inner);
