using Kv.Cluster.Event;

namespace Kv.Cluster.Actor;

/// <summary>What an actor sees of the runtime while it processes a message.</summary>
public interface IActorContext
{
    /// <summary>This actor.</summary>
    IActorRef Self { get; }

    /// <summary>Sender of the message being processed (dead letters when there is none).</summary>
    IActorRef Sender { get; }

    /// <summary>The parent (the guardian for top-level actors).</summary>
    IActorRef Parent { get; }

    /// <summary>The system.</summary>
    ActorSystem System { get; }

    /// <summary>The actor's logger: writes to ILogger and publishes on the event stream.</summary>
    ILoggingAdapter Log { get; }

    /// <summary>The live children.</summary>
    IEnumerable<IActorRef> GetChildren();

    /// <summary>A child by name, or null.</summary>
    IActorRef? Child(string name);

    /// <summary>Creates a child; a null name gets a generated one.</summary>
    IActorRef ActorOf(Props props, string? name = null);

    /// <summary>Stops a child or this actor.</summary>
    void Stop(IActorRef actor);

    /// <summary>Delivers <see cref="Terminated"/> when <paramref name="subject"/> stops.</summary>
    IActorRef Watch(IActorRef subject);

    /// <summary>Stops watching; a <see cref="Terminated"/> not yet processed is dropped.</summary>
    IActorRef Unwatch(IActorRef subject);

    /// <summary>Replaces the behaviour (ReceiveActor: the handlers the action registers).</summary>
    void Become(Action configure);

    /// <summary>Pushes a behaviour; <see cref="UnbecomeStacked"/> returns to the previous one.</summary>
    void BecomeStacked(Action configure);

    /// <summary>Returns to the previous behaviour.</summary>
    void UnbecomeStacked();

    /// <summary>Sends <see cref="ReceiveTimeout"/> when no message arrives for <paramref name="timeout"/>; null turns it off.</summary>
    void SetReceiveTimeout(TimeSpan? timeout);
}
