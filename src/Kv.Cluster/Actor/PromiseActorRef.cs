using Kv.Cluster.Dispatch;

namespace Kv.Cluster.Actor;

/// <summary>
/// The temporary actor behind <c>Ask</c>: lives under <c>/temp</c>, completes its task with the
/// first reply (a <see cref="Status.Failure"/> faults it), or with <see cref="AskTimeoutException"/>.
/// </summary>
internal sealed class PromiseActorRef<T> : InternalActorRef
{
    private readonly TaskCompletionSource<T> _promise = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ActorSystem _system;
    private ITimer? _timer;
    private CancellationTokenRegistration _cancellation;

    public PromiseActorRef(ActorSystem system, ActorPath path)
    {
        _system = system;
        Path = path;
    }

    public override ActorPath Path { get; }

    public override bool IsLocal => true;

    public Task<T> Task => _promise.Task;

    public void Start(ICanTell target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            _timer = _system.TimeProvider.CreateTimer(
                static s =>
                {
                    var (self, target, timeout) = ((PromiseActorRef<T>, ICanTell, TimeSpan))s!;
                    self.Fail(new AskTimeoutException($"Ask timed out on {Describe(target)} after {timeout.TotalMilliseconds:0} ms"));
                },
                (this, target, timeout), timeout, Timeout.InfiniteTimeSpan);
        }
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.Register(
                static s => ((PromiseActorRef<T>)s!).Cancel(), this);
        }
    }

    private static string Describe(ICanTell target) => target is IActorRef r ? r.Path.ToString() : target.ToString() ?? "?";

    public override void Tell(object message, IActorRef? sender)
    {
        switch (message)
        {
            case Status.Failure f:
                Fail(f.Cause);
                break;
            case T t:
                if (_promise.TrySetResult(t))
                    Cleanup();
                break;
            default:
                Fail(new InvalidCastException($"Ask expected a reply of type {typeof(T).Name} but got {message.GetType().Name}"));
                break;
        }
    }

    private void Fail(Exception e)
    {
        if (_promise.TrySetException(e))
            Cleanup();
    }

    private void Cancel()
    {
        if (_promise.TrySetCanceled())
            Cleanup();
    }

    private void Cleanup()
    {
        _timer?.Dispose();
        _cancellation.Dispose();
        _system.UnregisterTemp(Path.Name);
    }

    internal override ActorSystem? OwningSystem => _system;

    internal override void SendSystemMessage(SystemMessage message)
    {
        if (message is Watch w && w.Watcher is InternalActorRef watcher && _promise.Task.IsCompleted)
            watcher.SendSystemMessage(new DeathWatchNotification(this, existenceConfirmed: true, addressTerminated: false));
    }

    public override void Stop() => Cancel();
}
