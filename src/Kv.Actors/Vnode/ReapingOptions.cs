namespace Kv.Actors.Vnode;

/// <summary>
/// How a vnode gets its tombstones reaped and keeps what it reaped: tombstones older than
/// <see cref="Grace"/> are offered for reaping by a sweep every <see cref="SweepInterval"/> (again,
/// with backoff, until they are gone), and the clock of a reaped tombstone is kept for
/// <see cref="ReapedRetention"/> so that what the delete removed cannot come back.
/// </summary>
public sealed record ReapingOptions(TimeSpan Grace, TimeSpan SweepInterval, TimeSpan ReapedRetention)
{
    public static readonly ReapingOptions Default = new(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30), TimeSpan.FromDays(7));

    /// <summary>
    /// kv.ttl.clock-skew-tolerance: an object whose values all expire (or are tombstones) is offered
    /// for reaping no sooner than this (plus <see cref="Grace"/>) after its last expiry.
    /// </summary>
    public TimeSpan TtlClockSkewTolerance { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts to reap one key.</summary>
    public TimeSpan MaxBackoff => SweepInterval * 16;
}
