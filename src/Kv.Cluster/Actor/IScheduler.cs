namespace Kv.Cluster.Actor;

/// <summary>Something scheduled that can be cancelled.</summary>
public interface ICancelable
{
    /// <summary>Cancels it; a message already sent stays sent.</summary>
    void Cancel();

    /// <summary>True after <see cref="Cancel"/>.</summary>
    bool IsCancellationRequested { get; }
}

/// <summary>Timed sends and actions, driven by the system's <see cref="TimeProvider"/>.</summary>
public interface IScheduler
{
    /// <summary>Sends <paramref name="message"/> once after <paramref name="delay"/>.</summary>
    ICancelable ScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef? sender);

    /// <summary>Sends <paramref name="message"/> after <paramref name="initialDelay"/>, then every <paramref name="interval"/>.</summary>
    ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef? sender);

    /// <summary>Runs <paramref name="action"/> once after <paramref name="delay"/> (on the thread pool; keep it short).</summary>
    ICancelable ScheduleOnce(TimeSpan delay, Action action);

    /// <summary>Runs <paramref name="action"/> after <paramref name="initialDelay"/>, then every <paramref name="interval"/>.</summary>
    ICancelable ScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action);
}
