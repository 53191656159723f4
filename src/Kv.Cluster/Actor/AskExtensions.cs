namespace Kv.Cluster.Actor;

/// <summary>Request-reply from outside (or inside) actors.</summary>
public static class AskExtensions
{
    /// <summary>
    /// Sends <paramref name="message"/> with a temporary actor as sender and returns its first reply.
    /// Faults with <see cref="AskTimeoutException"/> after <paramref name="timeout"/> (the system's
    /// ask timeout when null), with the cause of a <see cref="Status.Failure"/> reply, or with
    /// <see cref="InvalidCastException"/> when the reply is not a <typeparamref name="T"/>.
    /// </summary>
    public static Task<T> Ask<T>(this ICanTell target, object message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(message);
        var system = ActorSystem.ForRef(target)
            ?? throw new InvalidOperationException($"cannot Ask {target}: it does not belong to a running actor system");
        var promise = system.RegisterTemp<T>();
        promise.Start(target, timeout ?? system.Options.AskTimeout, cancellationToken);
        target.Tell(message, promise);
        return promise.Task;
    }

    /// <summary>Ask for any reply.</summary>
    public static Task<object> Ask(this ICanTell target, object message, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        target.Ask<object>(message, timeout, cancellationToken);

    /// <summary>When <paramref name="task"/> completes, sends its result (or a <see cref="Status.Failure"/>) to <paramref name="recipient"/>.</summary>
    public static Task PipeTo<T>(this Task<T> task, ICanTell recipient, IActorRef? sender = null) =>
        task.ContinueWith(
            t => recipient.Tell(t.IsCompletedSuccessfully ? t.Result! : new Status.Failure(t.Exception?.InnerException ?? new TaskCanceledException()), sender),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
