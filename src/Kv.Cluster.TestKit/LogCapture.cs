using System.Collections.Concurrent;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;
using Microsoft.Extensions.Logging;

namespace Kv.Cluster.TestKit;

/// <summary>Captures a system's log events so a test can assert that a line was (or was not) logged.</summary>
public sealed class LogCapture : IDisposable
{
    private readonly ConcurrentQueue<LogEvent> _events = new();
    private readonly IDisposable _subscription;

    /// <summary>Starts capturing the log events of <paramref name="system"/>.</summary>
    public LogCapture(ActorSystem system) => _subscription = system.EventStream.Subscribe<LogEvent>(_events.Enqueue);

    /// <summary>Everything captured so far.</summary>
    public IReadOnlyList<LogEvent> Events => [.. _events];

    /// <summary>Captured events at <paramref name="level"/> or above whose message contains <paramref name="contains"/>.</summary>
    public int Count(LogLevel level, string contains) =>
        _events.Count(e => e.Level >= level && e.Message.Contains(contains, StringComparison.Ordinal));

    /// <summary>Waits until such an event was logged; fails after <paramref name="timeout"/>.</summary>
    public LogEvent Expect(LogLevel level, string contains, TimeSpan? timeout = null)
    {
        var end = DateTime.UtcNow + (timeout is { } t ? TestKitSettings.Dilated(t) : TestKitSettings.DefaultTimeout);
        while (true)
        {
            var found = _events.FirstOrDefault(e => e.Level >= level && e.Message.Contains(contains, StringComparison.Ordinal));
            if (found is not null)
                return found;
            if (DateTime.UtcNow > end)
                throw new TestKitException($"no {level} log line containing '{contains}'; saw:\n" + string.Join('\n', _events.TakeLast(20)));
            Thread.Sleep(10);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _subscription.Dispose();
}
