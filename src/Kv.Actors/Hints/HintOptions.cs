namespace Kv.Actors.Hints;

/// <summary>The hint store's limits and pace (kv.hints.* in the node's configuration).</summary>
public sealed record HintOptions
{
    /// <summary>Hints held for one target, at most (Riak/Cassandra have no such cap; 1 GiB by default): past it, new ones are dropped and counted.</summary>
    public long MaxBytesPerTarget { get; init; } = 1L << 30;

    /// <summary>Cassandra's max_hint_window: a target away longer than this gets no new hints (anti-entropy repairs what it missed).</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromHours(3);

    /// <summary>How often the store looks for targets that are back and sends them a batch.</summary>
    public TimeSpan DeliveryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Hints per batch; one batch in flight per target (the throttle).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>A batch's hints not acknowledged within this are sent again.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A snapshot after this many journal events (then the events before it are deleted).</summary>
    public int SnapshotEvery { get; init; } = 1000;
}
