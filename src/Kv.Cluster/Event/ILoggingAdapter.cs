using Microsoft.Extensions.Logging;

namespace Kv.Cluster.Event;

/// <summary>An actor's or subsystem's logger.</summary>
public interface ILoggingAdapter
{
    /// <summary>Whether <paramref name="level"/> is written anywhere.</summary>
    bool IsEnabled(LogLevel level);

    /// <summary>Writes a line.</summary>
    void Log(LogLevel level, Exception? exception, string message);
}

/// <summary>Level shortcuts.</summary>
public static class LoggingAdapterExtensions
{
    public static void Debug(this ILoggingAdapter log, string message) => log.Log(LogLevel.Debug, null, message);

    public static void Info(this ILoggingAdapter log, string message) => log.Log(LogLevel.Information, null, message);

    public static void Warning(this ILoggingAdapter log, string message) => log.Log(LogLevel.Warning, null, message);

    public static void Warning(this ILoggingAdapter log, Exception? exception, string message) => log.Log(LogLevel.Warning, exception, message);

    public static void Error(this ILoggingAdapter log, string message) => log.Log(LogLevel.Error, null, message);

    public static void Error(this ILoggingAdapter log, Exception? exception, string message) => log.Log(LogLevel.Error, exception, message);
}
