using Kv.Cluster.Actor;
using Microsoft.Extensions.Logging;

namespace Kv.Cluster.Event;

/// <summary>Writes to an ILogger and publishes a <see cref="LogEvent"/> when anyone listens for them.</summary>
internal sealed class LoggingAdapter(ActorSystem system, string source, ILogger logger) : ILoggingAdapter
{
    public bool IsEnabled(LogLevel level) =>
        level >= system.Options.LogLevel && (logger.IsEnabled(level) || system.EventStream.HasSubscribers(typeof(LogEvent)));

    public void Log(LogLevel level, Exception? exception, string message)
    {
        if (level < system.Options.LogLevel)
            return;
        if (logger.IsEnabled(level))
        {
#pragma warning disable CA2254 // the message is already formatted text
            logger.Log(level, exception, "{Source}: {Message}", source, message);
#pragma warning restore CA2254
        }
        if (system.EventStream.HasSubscribers(typeof(LogEvent)))
            system.EventStream.Publish(new LogEvent(level, source, message, exception, system.TimeProvider.GetUtcNow()));
    }
}
