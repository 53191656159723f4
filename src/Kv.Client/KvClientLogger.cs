using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Event;
using Microsoft.Extensions.Logging;

namespace Kv.Client;

/// <summary>The logger factory a client's actor system logs to (through <see cref="KvClientLogger"/>).</summary>
public sealed class KvClientLoggingSetup(ILoggerFactory factory) : Setup
{
    public ILoggerFactory Factory { get; } = factory;
}

/// <summary>
/// Akka's log of the client's actor system: to the <see cref="ILoggerFactory"/> of a
/// <see cref="KvClientLoggingSetup"/> when there is one, else to standard error (never standard
/// output, which belongs to the `kv` command's results).
/// </summary>
public sealed class KvClientLogger : ReceiveActor
{
    public KvClientLogger()
    {
        var factory = Context.System.Settings.Setup.Get<KvClientLoggingSetup>();
        var logger = factory.HasValue ? factory.Value.Factory.CreateLogger("Kv.Client.Akka") : null;
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            if (logger is not null)
                logger.Log(Level(e.LogLevel()), e.Cause, "{Source}: {Message}", e.LogSource, e.Message);
            else
                Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToLowerInvariant()}: {e.LogSource}: {e.Message}{(e.Cause is null ? "" : " (" + e.Cause.Message + ")")}");
        });
    }

    private static Microsoft.Extensions.Logging.LogLevel Level(Akka.Event.LogLevel level) => level switch
    {
        Akka.Event.LogLevel.DebugLevel => Microsoft.Extensions.Logging.LogLevel.Debug,
        Akka.Event.LogLevel.InfoLevel => Microsoft.Extensions.Logging.LogLevel.Information,
        Akka.Event.LogLevel.WarningLevel => Microsoft.Extensions.Logging.LogLevel.Warning,
        _ => Microsoft.Extensions.Logging.LogLevel.Error,
    };
}
