using Microsoft.Extensions.Logging;

namespace Kv.Cluster.Event;

/// <summary>A log line, published on the event stream as well as written to ILogger (tests assert on these).</summary>
public sealed record LogEvent(LogLevel Level, string Source, string Message, Exception? Exception, DateTimeOffset Timestamp)
{
    /// <inheritdoc />
    public override string ToString() => $"[{Level}] [{Source}] {Message}" + (Exception is null ? "" : $" ({Exception.GetType().Name}: {Exception.Message})");
}
