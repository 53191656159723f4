namespace Kv.Cluster.Actor;

/// <summary>Something a message can be sent to.</summary>
public interface ICanTell
{
    /// <summary>Sends <paramref name="message"/> without waiting; <paramref name="sender"/> is what the receiver sees as <c>Sender</c>.</summary>
    void Tell(object message, IActorRef? sender);
}

/// <summary>
/// A handle to an actor, local or remote. Immutable, thread-safe, comparable: two refs to the same
/// incarnation are equal. Sending never blocks (unless the actor has a bounded mailbox) and never throws.
/// </summary>
public interface IActorRef : ICanTell
{
    /// <summary>The actor's path.</summary>
    ActorPath Path { get; }
}
