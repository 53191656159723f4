using Kv.Cluster.Remote;
using Kv.Cluster.Remote.Serialization;
using Microsoft.Extensions.Logging;

namespace Kv.Cluster.Actor;

/// <summary>Settings of an actor system (the node host fills them from HOCON).</summary>
public sealed record ActorSystemOptions
{
    /// <summary>User messages an actor processes per mailbox run before giving the thread back (Akka: throughput).</summary>
    public int Throughput { get; init; } = 100;

    /// <summary>Default timeout of <c>Ask</c> when none is given.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Dead letters logged per window; the rest are summarised (0 = none logged).</summary>
    public int DeadLetterLogLimit { get; init; } = 10;

    /// <summary>The dead-letter log window.</summary>
    public TimeSpan DeadLetterLogWindow { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Lowest level logged by the system's loggers.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Where logs go (none when null; events are still published).</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Clock and timers (tests can pass a manual one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Timeout of each coordinated-shutdown phase.</summary>
    public TimeSpan ShutdownPhaseTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Remoting; null for a local-only system.</summary>
    public RemoteOptions? Remote { get; init; }

    /// <summary>Cluster membership settings (used by <c>Cluster.Get</c>; needs <see cref="Remote"/>).</summary>
    public Kv.Cluster.Cluster.ClusterOptions? Cluster { get; init; }

    /// <summary>Registers the message types this system sends over the wire.</summary>
    public Action<SerializationRegistry>? Serialization { get; init; }

    internal void Validate()
    {
        if (Throughput <= 0)
            throw new ArgumentOutOfRangeException(nameof(Throughput), Throughput, "throughput must be positive");
        if (AskTimeout <= TimeSpan.Zero && AskTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(AskTimeout), AskTimeout, "ask-timeout must be positive");
        Remote?.Validate();
    }
}
