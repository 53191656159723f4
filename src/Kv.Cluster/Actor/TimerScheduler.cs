using System.Collections.Concurrent;

namespace Kv.Cluster.Actor;

/// <summary>
/// The scheduler on <see cref="TimeProvider"/> timers (the runtime's timer queues, one per core).
/// Every live item is tracked so system termination cancels them all.
/// </summary>
internal sealed class TimerScheduler(TimeProvider time, Action<Exception> onError) : IScheduler, IDisposable
{
    private readonly ConcurrentDictionary<Item, byte> _live = new();
    private readonly Action<Exception> _onError = onError;
    private volatile bool _disposed;

    public ICancelable ScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef? sender) =>
        Add(delay, Timeout.InfiniteTimeSpan, () => receiver.Tell(message, sender));

    public ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef? sender) =>
        Add(initialDelay, CheckInterval(interval), () => receiver.Tell(message, sender));

    public ICancelable ScheduleOnce(TimeSpan delay, Action action) => Add(delay, Timeout.InfiniteTimeSpan, action);

    public ICancelable ScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action) =>
        Add(initialDelay, CheckInterval(interval), action);

    private static TimeSpan CheckInterval(TimeSpan interval)
    {
        if (interval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(interval), "a repeat interval must be positive");
        return interval;
    }

    private Item Add(TimeSpan delay, TimeSpan period, Action action)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var item = new Item(this, action, repeating: period != Timeout.InfiniteTimeSpan);
        _live[item] = 0;
        item.Timer = time.CreateTimer(static s => ((Item)s!).Fire(), item, delay < TimeSpan.Zero ? TimeSpan.Zero : delay, period);
        return item;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var item in _live.Keys)
            item.Cancel();
    }

    private sealed class Item(TimerScheduler owner, Action action, bool repeating) : ICancelable
    {
        private int _cancelled;

        public ITimer? Timer { get; set; }

        public bool IsCancellationRequested => Volatile.Read(ref _cancelled) != 0;

        public void Fire()
        {
            if (IsCancellationRequested)
                return;
            if (!repeating)
                Cancel();
            try
            {
                action();
            }
            catch (Exception e)
            {
                // A scheduled action must never take a timer thread down: report it and go on.
                owner._onError(e);
            }
        }

        public void Cancel()
        {
            if (Interlocked.Exchange(ref _cancelled, 1) != 0)
                return;
            Timer?.Dispose();
            owner._live.TryRemove(this, out _);
        }
    }
}
