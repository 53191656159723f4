namespace Kv.Cluster.Cluster;

/// <summary>Which split-brain strategy the cluster runs (all nodes must agree).</summary>
public enum DowningStrategy
{
    KeepMajority,
    StaticQuorum,
    KeepOldest,
    DownAll,
    /// <summary>No automatic downing (manual Down only).</summary>
    Off,
}

/// <summary>Cluster settings (HOCON: kv.cluster.*), Akka's defaults.</summary>
public sealed record ClusterOptions
{
    /// <summary>Roles of this node.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>Seed node addresses (kv://system@host:port); empty means join manually.</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    public TimeSpan GossipInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan LeaderActionsInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan SeedNodeTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan RetryUnsuccessfulJoinAfter { get; init; } = TimeSpan.FromSeconds(5);
    public bool AllowWeaklyUpMembers { get; init; } = true;

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);
    public double FailureDetectorThreshold { get; init; } = 8.0;
    public TimeSpan AcceptableHeartbeatPause { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan MinStdDeviation { get; init; } = TimeSpan.FromMilliseconds(100);
    public int MaxSampleSize { get; init; } = 1000;
    public int MonitoredByNrOfMembers { get; init; } = 9;

    public DowningStrategy Downing { get; init; } = DowningStrategy.KeepMajority;
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(20);
    public bool DownAllWhenUnstable { get; init; } = true;
    public int StaticQuorumSize { get; init; }
    public bool KeepOldestDownIfAlone { get; init; } = true;

    /// <summary>How long removed incarnations stay in gossip as tombstones.</summary>
    public TimeSpan PruneGossipTombstonesAfter { get; init; } = TimeSpan.FromHours(24);

    internal void Validate()
    {
        if (GossipInterval <= TimeSpan.Zero || HeartbeatInterval <= TimeSpan.Zero || LeaderActionsInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(GossipInterval), "cluster intervals must be positive");
        if (FailureDetectorThreshold <= 0)
            throw new ArgumentOutOfRangeException(nameof(FailureDetectorThreshold), FailureDetectorThreshold, "cluster.failure-detector.threshold must be positive");
        if (MonitoredByNrOfMembers <= 0)
            throw new ArgumentOutOfRangeException(nameof(MonitoredByNrOfMembers), MonitoredByNrOfMembers, "cluster.failure-detector.monitored-by-nr-of-members must be positive");
        if (Downing == DowningStrategy.StaticQuorum && StaticQuorumSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(StaticQuorumSize), StaticQuorumSize, "cluster.split-brain-resolver.static-quorum.quorum-size is required for static-quorum");
    }
}
