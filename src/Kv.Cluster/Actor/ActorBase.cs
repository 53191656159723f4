using Kv.Cluster.Event;

namespace Kv.Cluster.Actor;

/// <summary>
/// Base of every actor. Override <see cref="Receive"/> (or use <see cref="ReceiveActor"/>).
/// The instance is only ever touched by one thread at a time.
/// </summary>
public abstract class ActorBase
{
    private readonly ActorCell _cell;

    /// <summary>Actors are created by the runtime from <see cref="Props"/>, never with new outside it.</summary>
    protected ActorBase()
    {
        _cell = ActorCell.Current
            ?? throw new ActorException($"{GetType().Name} must be created through Props and ActorOf, not with new");
        _cell.BindActor(this);
    }

    /// <summary>The actor's context.</summary>
    protected IActorContext Context => _cell;

    /// <summary>This actor.</summary>
    protected IActorRef Self => _cell.Self;

    /// <summary>The sender of the current message.</summary>
    protected IActorRef Sender => _cell.Sender;

    /// <summary>The actor's logger.</summary>
    protected ILoggingAdapter Log => _cell.Log;

    /// <summary>The actor's stash (messages set aside to process later).</summary>
    protected IStash Stash => _cell.Stash;

    internal ActorCell Cell => _cell;

    internal bool AroundReceive(object message) => Receive(message);

    internal void AroundUnhandled(object message) => Unhandled(message);

    internal void AroundPreStart() => PreStart();

    internal void AroundPostStop() => PostStop();

    internal void AroundPreRestart(Exception reason, object? message) => PreRestart(reason, message);

    internal void AroundPostRestart(Exception reason) => PostRestart(reason);

    internal SupervisorStrategy AroundSupervisorStrategy() => SupervisorStrategy();

    /// <summary>Handles a message; returns false when it is not handled.</summary>
    protected abstract bool Receive(object message);

    /// <summary>Called before the first message, and after a restart by the default <see cref="PostRestart"/>.</summary>
    protected virtual void PreStart()
    {
    }

    /// <summary>Called after the actor has stopped (children are already stopped).</summary>
    protected virtual void PostStop()
    {
    }

    /// <summary>Called on the failed instance before a restart. The default stops all children, then calls <see cref="PostStop"/>.</summary>
    protected virtual void PreRestart(Exception reason, object? message)
    {
        foreach (var child in Context.GetChildren())
            Context.Stop(child);
        PostStop();
    }

    /// <summary>Called on the new instance after a restart. The default calls <see cref="PreStart"/>.</summary>
    protected virtual void PostRestart(Exception reason) => PreStart();

    /// <summary>The strategy for this actor's children (Props can override it).</summary>
    protected virtual SupervisorStrategy SupervisorStrategy() => Actor.SupervisorStrategy.DefaultStrategy;

    /// <summary>
    /// Called for messages <see cref="Receive"/> did not handle: an unhandled <see cref="Terminated"/>
    /// fails the actor with <see cref="DeathPactException"/>; anything else is published as
    /// <see cref="UnhandledMessage"/> on the event stream.
    /// </summary>
    protected virtual void Unhandled(object message)
    {
        if (message is Terminated t)
            throw new DeathPactException(t.ActorRef);
        _cell.System.EventStream.Publish(new UnhandledMessage(message, _cell.Sender, Self));
    }
}
