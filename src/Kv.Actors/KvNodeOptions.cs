using Kv.Actors.Coordinators;
using Kv.Storage;

namespace Kv.Actors;

/// <summary>Settings of the store on one node (defaults from DESIGN.md section 6).</summary>
public sealed record KvNodeOptions
{
    /// <summary>Where vnode data (vnodes/&lt;partition&gt;) and the ring (ring.bin) live.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Partitions of a new ring (a power of two). An existing ring keeps its own size.</summary>
    public int RingSize { get; init; } = 64;

    /// <summary>Claim keeps this many consecutive partitions on distinct nodes when the node count allows.</summary>
    public int TargetNVal { get; init; } = 4;

    /// <summary>Namespace settings by name; undeclared namespaces use "default".</summary>
    public IReadOnlyDictionary<string, NamespaceProps> Namespaces { get; init; } =
        new Dictionary<string, NamespaceProps> { ["default"] = NamespaceProps.Default };

    /// <summary>Requests to a namespace not declared in <see cref="Namespaces"/> fail (<see cref="FailureCode.UnknownNamespace"/>); off: they use `default`.</summary>
    public bool StrictNamespaces { get; init; } = true;

    /// <summary>Engine settings of every vnode (the shared environment is filled in by the node).</summary>
    public StorageOptions Storage { get; init; } = new();

    /// <summary>Node-wide block cache shared by all vnodes.</summary>
    public long BlockCacheBytes { get; init; } = 256L << 20;

    /// <summary>Node-wide memtable budget shared by all vnodes.</summary>
    public long MemtableBudgetBytes { get; init; } = 512L << 20;

    /// <summary>
    /// All vnodes write ahead to one commit log under the data directory (one fdatasync for the
    /// concurrent writes of every vnode); off: each vnode's engine keeps its own WAL.
    /// </summary>
    public bool SharedCommitLog { get; init; } = true;

    /// <summary>Size at which a commit-log segment is sealed and a new one started.</summary>
    public long CommitLogSegmentBytes { get; init; } = 32L << 20;

    /// <summary>Commit-log size past which the vnodes holding the oldest segment flush their memtables.</summary>
    public long CommitLogTotalBytes { get; init; } = 256L << 20;

    /// <summary>Least time between two commit-log fsyncs; durable writes arriving meanwhile share the next one.</summary>
    public TimeSpan CommitLogGroupWindow { get; init; } = TimeSpan.Zero;

    /// <summary>How often the ring is gossiped and the claimant (the cluster leader) checks membership.</summary>
    public TimeSpan RingTick { get; init; } = TimeSpan.FromSeconds(1);

    public HandoffOptions Handoff { get; init; } = new();

    /// <summary>The hint store's limits and pace.</summary>
    public Hints.HintOptions Hints { get; init; } = new();

    /// <summary>How long a tombstone stays after all primaries hold it before it is reaped (Riak's delete_mode 3 s).</summary>
    public TimeSpan TombstoneGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How often each vnode looks for tombstones it has held longer than <see cref="TombstoneGrace"/>
    /// and asks for them to be reaped (again, with backoff, until they are: after a reap that did not
    /// happen, after a restart).
    /// </summary>
    public TimeSpan TombstoneSweepInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a vnode keeps the clock of a tombstone it reaped: a copy older than the delete that
    /// arrives meanwhile (late read repair, handoff from a node that was away) is dropped.
    /// </summary>
    public TimeSpan ReapedClockRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long a ring member may stay unreachable or out of the cluster before it is removed for
    /// good, counted from when it was first seen unreachable: until then its partitions stay its own
    /// (fallbacks keep hints for it, and it comes back to them); once it is out of the cluster
    /// (downed by the split-brain resolver or an operator: never by the ring, which could split a
    /// partitioned cluster in two) and the time has passed, the claimant gives its partitions to the
    /// others, whose new vnodes fill themselves from the surviving replicas.
    /// </summary>
    public TimeSpan PermanentFailureAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Active anti-entropy: Merkle trees per vnode and their exchanges.</summary>
    public Aae.AaeOptions Aae { get; init; } = new();

    /// <summary>Scheduled snapshots of the partitions this node owns (kv.backup.*; off by default).</summary>
    public Backup.BackupOptions Backup { get; init; } = new();

    /// <summary>How long a leave (handing off every partition) may take before it is given up.</summary>
    public TimeSpan LeaveTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The admin actor accepts <see cref="Admin.ChaosSetFaults"/> (partitions through the runtime's
    /// fault rules) only when this is on (kv.chaos.enabled, off by default).
    /// </summary>
    public bool ChaosEnabled { get; init; }

    /// <summary>Users, grants and authentication (kv.security; docs/security.md).</summary>
    public Security.SecurityOptions Security { get; init; } = new();

    /// <summary>
    /// TTL: how far apart the nodes' clocks may be (kv.ttl.clock-skew-tolerance). A node treats a value
    /// as expired once its own clock reads its expiry minus this, so while clocks differ by at most this
    /// no node serves a value after its expiry (on the clock of the node that stamped it); an
    /// object whose values have all expired is reaped no sooner than this after its last expiry.
    /// </summary>
    public TimeSpan TtlClockSkewTolerance { get; init; } = TimeSpan.FromSeconds(1);

    public int MaxKeyBytes { get; init; } = 64 * 1024;

    public int MaxObjectBytes { get; init; } = 1024 * 1024;

    /// <summary>The settings of <paramref name="ns"/> (its own, or the default namespace's).</summary>
    public NamespaceProps PropsOf(string ns) =>
        Namespaces.TryGetValue(ns, out var p) ? p : Namespaces.TryGetValue("default", out var d) ? d : NamespaceProps.Default;

    /// <summary>The namespaces with consistent = on, and "*" when the default namespace (which unconfigured ones take) is one.</summary>
    public IReadOnlyList<string> ConsistentNamespaces()
    {
        var names = Namespaces.Where(n => n.Value.Consistent).Select(n => n.Key).Order(StringComparer.Ordinal).ToList();
        if (PropsOf("default").Consistent)
            names.Add("*");
        return names;
    }

    public KvNodeOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(DataDirectory))
            throw new ArgumentException("kv.data-directory is required");
        if (RingSize < 1 || RingSize > 1024 || (RingSize & (RingSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(RingSize), RingSize, "kv.ring-size must be a power of two, 1..1024");
        if (TargetNVal < 1)
            throw new ArgumentOutOfRangeException(nameof(TargetNVal), TargetNVal, "kv.target-n-val must be at least 1");
        if (MaxKeyBytes < 1 || MaxKeyBytes > 64 * 1024)
            throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), MaxKeyBytes, "kv.max-key-size must be 1..65536");
        // Every legal request must fit the engine: a key is stored behind its namespace (up to 255
        // bytes), and one value alone (a sibling adds little) must stay under the engine's value limit.
        if (Vnode.VnodeActor.StorageKeyLength(255, MaxKeyBytes) > LsmEngine.MaxKeySize)
            throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), MaxKeyBytes, $"kv.max-key-size {MaxKeyBytes} with a 255-byte namespace exceeds the storage engine's key limit ({LsmEngine.MaxKeySize} bytes)");
        if (MaxObjectBytes < 1 || MaxObjectBytes > 16 * 1024 * 1024)
            throw new ArgumentOutOfRangeException(nameof(MaxObjectBytes), MaxObjectBytes, "kv.max-object-size must be 1 B..16 MiB");
        if (MaxObjectBytes + (64L << 10) > LsmEngine.MaxValueSize)
            throw new ArgumentOutOfRangeException(nameof(MaxObjectBytes), MaxObjectBytes, $"kv.max-object-size {MaxObjectBytes} leaves no room for an object's metadata under the storage engine's value limit ({LsmEngine.MaxValueSize} bytes)");
        foreach (var (name, props) in Namespaces)
        {
            props.Validate(name);
            if (props.NVal > RingSize)
                throw new ArgumentOutOfRangeException(nameof(Namespaces), props.NVal, $"namespace '{name}': n_val {props.NVal} exceeds the ring size {RingSize}");
        }
        if (TombstoneGrace < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(TombstoneGrace), TombstoneGrace, "kv.tombstone-grace must be >= 0");
        if (TombstoneSweepInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(TombstoneSweepInterval), TombstoneSweepInterval, "kv.tombstone-sweep-interval must be > 0");
        if (ReapedClockRetention <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ReapedClockRetention), ReapedClockRetention, "kv.reaped-clock-retention must be > 0");
        if (TtlClockSkewTolerance < TimeSpan.Zero || TtlClockSkewTolerance > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(TtlClockSkewTolerance), TtlClockSkewTolerance, "kv.ttl.clock-skew-tolerance must be 0..1h");
        if (PermanentFailureAfter < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(PermanentFailureAfter), PermanentFailureAfter, "kv.cluster.permanent-failure-after must be >= 0");
        Handoff.Validate();
        Aae.Validate();
        Security.Validate();
        Backup.Validate();
        return this;
    }
}

/// <summary>Ownership handoff: how many transfers at once per node, batch size, bandwidth cap, retries.</summary>
public sealed record HandoffOptions
{
    /// <summary>Transfers a node sends at once (Riak's transfer_limit, 2).</summary>
    public int Concurrency { get; init; } = 2;

    /// <summary>Bytes per batch (each batch waits for its acknowledgement).</summary>
    public int BatchBytes { get; init; } = 256 * 1024;

    /// <summary>Bandwidth cap per transfer in bytes/s (0: none).</summary>
    public long MaxBytesPerSecond { get; init; }

    /// <summary>A batch not acknowledged in this time is sent again.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pause before resending after a failure.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a vnode that handed its partition off keeps forwarding requests sent by nodes with an older ring.</summary>
    public TimeSpan ForwardingGrace { get; init; } = TimeSpan.FromSeconds(30);

    public HandoffOptions Validate()
    {
        if (Concurrency < 1)
            throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "kv.handoff.concurrency must be at least 1");
        if (BatchBytes < 1024)
            throw new ArgumentOutOfRangeException(nameof(BatchBytes), BatchBytes, "kv.handoff.batch-size must be at least 1 KiB");
        if (MaxBytesPerSecond < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxBytesPerSecond), MaxBytesPerSecond, "kv.handoff.max-bytes-per-second must be >= 0");
        return this;
    }
}
