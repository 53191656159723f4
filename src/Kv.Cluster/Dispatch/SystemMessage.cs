using Kv.Cluster.Actor;

namespace Kv.Cluster.Dispatch;

/// <summary>
/// Messages of the runtime itself. They travel in their own queue and overtake user messages;
/// an actor never sees them in its Receive.
/// </summary>
public abstract class SystemMessage
{
    private protected SystemMessage()
    {
    }
}

/// <summary>Stop the actor.</summary>
internal sealed class Terminate : SystemMessage;

/// <summary>Resume after a failure (supervisor said Resume).</summary>
internal sealed class Resume(Exception? cause) : SystemMessage
{
    public Exception? Cause { get; } = cause;
}

/// <summary>Restart after a failure (supervisor said Restart).</summary>
internal sealed class Recreate(Exception cause) : SystemMessage
{
    public Exception Cause { get; } = cause;
}

/// <summary>A child failed; sent to its parent.</summary>
internal sealed class Failed(IActorRef child, Exception cause) : SystemMessage
{
    public IActorRef Child { get; } = child;
    public Exception Cause { get; } = cause;
}

/// <summary>A child has fully stopped; sent to its parent.</summary>
internal sealed class ChildTerminated(IActorRef child) : SystemMessage
{
    public IActorRef Child { get; } = child;
}

/// <summary><paramref name="watcher"/> wants a <see cref="Terminated"/> when <paramref name="watchee"/> stops.</summary>
public sealed class Watch(IActorRef watchee, IActorRef watcher) : SystemMessage
{
    public IActorRef Watchee { get; } = watchee;
    public IActorRef Watcher { get; } = watcher;
}

/// <summary>Undo a <see cref="Watch"/>.</summary>
public sealed class Unwatch(IActorRef watchee, IActorRef watcher) : SystemMessage
{
    public IActorRef Watchee { get; } = watchee;
    public IActorRef Watcher { get; } = watcher;
}

/// <summary>The watched actor stopped (or its system went away); becomes a <see cref="Terminated"/> for the watcher.</summary>
public sealed class DeathWatchNotification(IActorRef actor, bool existenceConfirmed, bool addressTerminated) : SystemMessage
{
    public IActorRef Actor { get; } = actor;
    public bool ExistenceConfirmed { get; } = existenceConfirmed;
    public bool AddressTerminated { get; } = addressTerminated;
}

/// <summary>Runs an async continuation of a <c>ReceiveAsync</c> handler inside the actor.</summary>
internal sealed class RunContinuation(SendOrPostCallback callback, object? state, IActorRef? sender) : SystemMessage
{
    public SendOrPostCallback Callback { get; } = callback;
    public object? State { get; } = state;
    public IActorRef? Sender { get; } = sender;
}
