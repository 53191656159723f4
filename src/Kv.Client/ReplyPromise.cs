using Akka.Actor;
using Akka.Dispatch.SysMsg;
using Kv.Actors.Coordinators;

namespace Kv.Client;

/// <summary>
/// The reply slot of one request attempt: a temporary actor ref (<see cref="TemporaryRef"/>: registered once its path is sent, so a remote node can
/// answer it) whose first message completes <see cref="Task"/>. It does what Akka's <c>Ask</c> does
/// for the client, with less per request: no timer and cancellation source per attempt. Attempts
/// that outlive their deadline are found by the shared sweep (<see cref="RequestDeadlines"/>) and
/// end with <see cref="AskTimeoutException"/>; a cancelled <c>abandon</c> token ends one with
/// <see cref="OperationCanceledException"/>. Either way the ref is unregistered and later replies
/// are dropped.
/// </summary>
internal sealed class ReplyPromise : TemporaryRef, IExpiring
{
    private readonly TaskCompletionSource<object> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _timeout;
    private CancellationTokenRegistration _abandon;
    private int _done;

    private ReplyPromise(IActorRefProvider provider, TimeSpan timeout)
        : base(provider) =>
        (_timeout, Deadline) = (timeout, Environment.TickCount64 + (long)timeout.TotalMilliseconds);

    public override bool IsTerminated => Volatile.Read(ref _done) != 0;

    public bool Ended => IsTerminated;

    public long Deadline { get; }

    public void Expire() => End(null, canceled: false);

    /// <summary>The reply, or an <see cref="AskTimeoutException"/> after the timeout, or an <see cref="OperationCanceledException"/> when abandoned.</summary>
    public Task<object> Task => _reply.Task;

    /// <summary>Sends <paramref name="message"/> to <paramref name="target"/> with a new promise as its sender.</summary>
    public static Task<object> Ask(ActorSystem system, ICanTell target, object message, TimeSpan timeout, CancellationToken abandon)
    {
        var promise = new ReplyPromise(((ExtendedActorSystem)system).Provider, timeout);
        if (abandon.CanBeCanceled)
            promise._abandon = abandon.Register(static p => ((ReplyPromise)p!).End(null, canceled: true), promise);
        RequestDeadlines.Watch(promise);
        target.Tell(message, promise);
        return promise.Task;
    }

    protected override void TellInternal(object message, IActorRef sender) => End(message, canceled: false);

    public override void SendSystemMessage(ISystemMessage message)
    {
    }

    private void End(object? reply, bool canceled)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
            return;
        Close();
        _abandon.Dispose();
        if (canceled)
            _reply.TrySetCanceled();
        else if (reply is null)
            _reply.TrySetException(new AskTimeoutException($"no reply within {_timeout.TotalMilliseconds:0} ms"));
        else
            _reply.TrySetResult(reply);
    }
}
