namespace Kv.Cluster.Remote;

/// <summary>Which way a fault rule applies, seen from the local system.</summary>
[Flags]
public enum FaultDirection
{
    /// <summary>Messages this system sends to the remote.</summary>
    Send = 1,

    /// <summary>Messages this system receives from the remote.</summary>
    Receive = 2,

    /// <summary>Both ways.</summary>
    Both = Send | Receive,
}

/// <summary>
/// A fault-injection rule for the link to one remote system (tests and multi-node specs):
/// pass-through, drop (blackhole when both ways), delay, or throttle to a byte rate.
/// Handshakes are not affected, so connections form; messages and heartbeats are.
/// </summary>
public sealed record FaultRule
{
    /// <summary>No fault.</summary>
    public static readonly FaultRule PassThrough = new();

    /// <summary>Drop everything both ways.</summary>
    public static readonly FaultRule Blackhole = new() { Drop = FaultDirection.Both };

    /// <summary>Directions in which messages are dropped.</summary>
    public FaultDirection? Drop { get; init; }

    /// <summary>Extra delay on every sent message (order kept).</summary>
    public TimeSpan SendDelay { get; init; }

    /// <summary>Send rate limit in bytes per second (0 = none).</summary>
    public long SendBytesPerSecond { get; init; }

    /// <summary>Drop one way only.</summary>
    public static FaultRule DropOneWay(FaultDirection direction) => new() { Drop = direction };

    /// <summary>Delay every sent message.</summary>
    public static FaultRule Delay(TimeSpan delay) => new() { SendDelay = delay };

    /// <summary>Throttle sends to a byte rate.</summary>
    public static FaultRule Throttle(long bytesPerSecond) => new() { SendBytesPerSecond = bytesPerSecond };

    internal bool DropsSend => Drop is { } d && (d & FaultDirection.Send) != 0;

    internal bool DropsReceive => Drop is { } d && (d & FaultDirection.Receive) != 0;

    internal bool IsPassThrough => Drop is null && SendDelay == TimeSpan.Zero && SendBytesPerSecond == 0;
}
