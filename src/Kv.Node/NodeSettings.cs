using System.Reflection;
using Kv.Actors;
using Kv.Actors.Coordinators;
using Kv.Cluster.Actor;
using Kv.Cluster.Cluster;
using Kv.Cluster.Configuration;
using Kv.Cluster.Remote;
using Kv.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kv.Node;

/// <summary>
/// Everything a node needs, read from configuration: reference.conf (built in), the file given
/// with --config, environment variables, command-line flags, in that order.
/// </summary>
public sealed record NodeSettings(
    string SystemName,
    ActorSystemOptions System,
    KvNodeOptions Store,
    bool LeaveOnShutdown,
    string? ConfigFile)
{
    private static readonly Lazy<string> ReferenceText = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("reference.conf")
            ?? throw new InvalidOperationException("reference.conf is not embedded in Kv.Node");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>The built-in reference.conf text.</summary>
    public static string Reference => ReferenceText.Value;

    /// <summary>Loads and checks the settings. Throws <see cref="ConfigException"/> on any error.</summary>
    public static NodeSettings Load(NodeArguments args, Func<string, string?>? environment = null)
    {
        IConfigurationRoot root;
        HoconObject reference;
        try
        {
            reference = HoconParser.Parse(Reference, "reference.conf");
            var documents = new List<HoconDocument> { HoconDocument.FromText("reference.conf", Reference) };
            if (args.ConfigFile is not null)
                documents.Add(HoconDocument.File(Path.GetFullPath(args.ConfigFile)));
            var hocon = new HoconConfigurationSource { Environment = environment };
            hocon.Documents.AddRange(documents);
            var builder = new ConfigurationBuilder().Add(hocon);
            if (environment is null)
                builder.AddEnvironmentVariables();
            builder.AddInMemoryCollection(args.Overrides);
            root = builder.Build();
        }
        catch (HoconException e)
        {
            throw new ConfigException(e.Message);
        }
        return From(SettingsReader.From(root, reference), args.ConfigFile, args.Seeds);
    }

    private static readonly Dictionary<string, LogLevel> LogLevels = new()
    {
        ["trace"] = LogLevel.Trace, ["debug"] = LogLevel.Debug, ["information"] = LogLevel.Information, ["info"] = LogLevel.Information,
        ["warning"] = LogLevel.Warning, ["error"] = LogLevel.Error, ["critical"] = LogLevel.Critical, ["none"] = LogLevel.None,
    };

    private static readonly Dictionary<string, DowningStrategy> Strategies = new()
    {
        ["keep-majority"] = DowningStrategy.KeepMajority, ["static-quorum"] = DowningStrategy.StaticQuorum,
        ["keep-oldest"] = DowningStrategy.KeepOldest, ["down-all"] = DowningStrategy.DownAll, ["off"] = DowningStrategy.Off,
    };

    private static readonly Dictionary<string, SyncMode> SyncModes = new()
    {
        ["per-write"] = SyncMode.PerWrite, ["interval"] = SyncMode.Interval, ["none"] = SyncMode.None,
    };

    private static readonly Dictionary<string, bool> CommitLogModes = new()
    {
        ["shared"] = true, ["per-vnode"] = false,
    };

    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);
    private static readonly TimeSpan Week = TimeSpan.FromDays(7);
    private const long GiB = 1L << 30;

    /// <summary>Builds the options from checked settings.</summary>
    public static NodeSettings From(SettingsReader s, string? configFile, IReadOnlyList<string>? seedOverride = null)
    {
        var remote = new RemoteOptions
        {
            Hostname = s.String("kv.remote.hostname"),
            Port = s.Int("kv.remote.port", 0, 65535),
            PublicHostname = s.String("kv.remote.public-hostname") is { Length: > 0 } p ? p : null,
            Secret = s.String("kv.remote.secret"),
            MaximumFrameSize = (int)s.Size("kv.remote.maximum-frame-size", 64 * 1024, 64L << 20),
            SendQueueCapacity = s.Int("kv.remote.send-queue-capacity", 1, 10_000_000),
            HandshakeTimeout = s.Duration("kv.remote.handshake-timeout", Ms, Day),
            ReconnectMinBackoff = s.Duration("kv.remote.reconnect-min-backoff", Ms, Day),
            ReconnectMaxBackoff = s.Duration("kv.remote.reconnect-max-backoff", Ms, Day),
            HeartbeatInterval = s.Duration("kv.remote.heartbeat-interval", Ms, Day),
            WatchFailureTimeout = s.Duration("kv.remote.watch-failure-timeout", Ms, Day),
            WriteBatchBytes = (int)s.Size("kv.remote.write-batch-size", 1024, 64L << 20),
            Tls = s.Bool("kv.remote.tls.enabled")
                ? new TlsOptions
                {
                    CertificatePath = s.String("kv.remote.tls.certificate-path"),
                    CertificatePassword = s.String("kv.remote.tls.certificate-password") is { Length: > 0 } pw ? pw : null,
                    AcceptTrustedChains = s.Bool("kv.remote.tls.accept-trusted-chains"),
                }
                : null,
        };
        if (remote.Hostname.Length == 0)
            throw new ConfigException("kv.remote.hostname must not be empty");
        if (remote.ReconnectMaxBackoff < remote.ReconnectMinBackoff)
            throw new ConfigException("kv.remote.reconnect-max-backoff must be >= kv.remote.reconnect-min-backoff");
        if (remote.Tls is { CertificatePath.Length: 0 })
            throw new ConfigException("kv.remote.tls.certificate-path is required when kv.remote.tls.enabled = on");
        string systemName = s.String("kv.system-name");
        if (systemName.Length == 0 || !systemName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new ConfigException($"kv.system-name = '{systemName}': letters, digits, '-' and '_' only");
        var seeds = seedOverride is { Count: > 0 } ? seedOverride : s.List("kv.cluster.seed-nodes");
        foreach (string seed in seeds)
        {
            if (!Address.TryParse(seed, out var a, out string rest) || rest.Length > 0)
                throw new ConfigException($"kv.cluster.seed-nodes: '{seed}' is not an address (kv://{systemName}@host:port)");
            if (a.System != systemName)
                throw new ConfigException($"kv.cluster.seed-nodes: '{seed}' names the system '{a.System}', but kv.system-name is '{systemName}'");
        }
        var cluster = new ClusterOptions
        {
            SeedNodes = seeds,
            Roles = s.List("kv.cluster.roles"),
            GossipInterval = s.Duration("kv.cluster.gossip-interval", Ms, Day),
            LeaderActionsInterval = s.Duration("kv.cluster.leader-actions-interval", Ms, Day),
            SeedNodeTimeout = s.Duration("kv.cluster.seed-node-timeout", Ms, Day),
            RetryUnsuccessfulJoinAfter = s.Duration("kv.cluster.retry-unsuccessful-join-after", Ms, Day),
            AllowWeaklyUpMembers = s.Bool("kv.cluster.allow-weakly-up-members"),
            HeartbeatInterval = s.Duration("kv.cluster.heartbeat-interval", Ms, Day),
            FailureDetectorThreshold = s.Double("kv.cluster.failure-detector.threshold", 1, 100),
            AcceptableHeartbeatPause = s.Duration("kv.cluster.failure-detector.acceptable-heartbeat-pause", TimeSpan.Zero, Day),
            MinStdDeviation = s.Duration("kv.cluster.failure-detector.min-std-deviation", Ms, Day),
            MaxSampleSize = s.Int("kv.cluster.failure-detector.max-sample-size", 1, 1_000_000),
            MonitoredByNrOfMembers = s.Int("kv.cluster.failure-detector.monitored-by-nr-of-members", 1, 1000),
            Downing = s.Choice("kv.cluster.split-brain-resolver.active-strategy", Strategies),
            StableAfter = s.Duration("kv.cluster.split-brain-resolver.stable-after", Ms, Day),
            DownAllWhenUnstable = s.Bool("kv.cluster.split-brain-resolver.down-all-when-unstable"),
            StaticQuorumSize = s.Int("kv.cluster.split-brain-resolver.static-quorum-size", 0, 10_000),
            KeepOldestDownIfAlone = s.Bool("kv.cluster.split-brain-resolver.keep-oldest-down-if-alone"),
            PruneGossipTombstonesAfter = s.Duration("kv.cluster.prune-gossip-tombstones-after", TimeSpan.FromMinutes(1), Week * 52),
        };
        if (cluster.Downing == DowningStrategy.StaticQuorum && cluster.StaticQuorumSize < 1)
            throw new ConfigException("kv.cluster.split-brain-resolver.static-quorum-size must be >= 1 with active-strategy = static-quorum");
        var system = new ActorSystemOptions
        {
            Throughput = s.Int("kv.actor.throughput", 1, 1_000_000),
            AskTimeout = s.Duration("kv.actor.ask-timeout", Ms, Day),
            DeadLetterLogLimit = s.Int("kv.actor.dead-letter-log-limit", 0, 1_000_000),
            DeadLetterLogWindow = s.Duration("kv.actor.dead-letter-log-window", Ms, Day),
            ShutdownPhaseTimeout = s.Duration("kv.actor.shutdown-phase-timeout", Ms, Day),
            LogLevel = s.Choice("kv.actor.log-level", LogLevels),
            Remote = remote,
            Cluster = cluster,
        };
        var storage = new StorageOptions
        {
            WriteBufferSize = s.Size("kv.storage.write-buffer-size", 64 * 1024, 4 * GiB),
            MaxImmutableMemtables = s.Int("kv.storage.max-immutable-memtables", 1, 64),
            L0CompactionTrigger = s.Int("kv.storage.l0-compaction-trigger", 1, 1000),
            L0SlowdownTrigger = s.Int("kv.storage.l0-slowdown-trigger", 1, 1000),
            L0StopTrigger = s.Int("kv.storage.l0-stop-trigger", 1, 1000),
            L1MaxBytes = s.Size("kv.storage.l1-max-size", 1 << 20, 1024 * GiB),
            LevelMultiplier = s.Int("kv.storage.level-multiplier", 2, 100),
            TargetFileSize = s.Size("kv.storage.target-file-size", 64 * 1024, 16 * GiB),
            BlockSize = (int)s.Size("kv.storage.block-size", 256, 1 << 20),
            BloomBitsPerKey = s.Int("kv.storage.bloom-bits-per-key", 0, 64),
            SyncMode = s.Choice("kv.storage.sync-mode", SyncModes),
            SyncInterval = s.Duration("kv.storage.sync-interval", Ms, TimeSpan.FromMinutes(1)),
        };
        if (!(storage.L0CompactionTrigger <= storage.L0SlowdownTrigger && storage.L0SlowdownTrigger <= storage.L0StopTrigger))
            throw new ConfigException("kv.storage: l0-compaction-trigger <= l0-slowdown-trigger <= l0-stop-trigger is required");
        var namespaces = new Dictionary<string, NamespaceProps>(StringComparer.Ordinal);
        var defaults = ReadNamespace(s, "default", NamespaceProps.Default, inherit: false);
        namespaces["default"] = defaults;
        foreach (string name in s.Children("kv.namespaces"))
        {
            if (name != "default")
                namespaces[name] = ReadNamespace(s, name, defaults, inherit: true);
        }
        var store = new KvNodeOptions
        {
            DataDirectory = s.String("kv.data-directory"),
            RingSize = s.Int("kv.ring-size", 1, 1024),
            TargetNVal = s.Int("kv.target-n-val", 1, 1024),
            RingTick = s.Duration("kv.ring-tick", Ms, TimeSpan.FromMinutes(10)),
            TombstoneGrace = s.Duration("kv.tombstone-grace", TimeSpan.Zero, Week),
            TombstoneSweepInterval = s.Duration("kv.tombstone-sweep-interval", Ms, Week),
            ReapedClockRetention = s.Duration("kv.reaped-clock-retention", Ms, 366 * Week),
            MaxKeyBytes = (int)s.Size("kv.max-key-size", 1, 64 * 1024),
            MaxObjectBytes = (int)s.Size("kv.max-object-size", 1, 16 << 20),
            StrictNamespaces = s.Bool("kv.strict-namespaces"),
            BlockCacheBytes = s.Size("kv.block-cache-size", 0, 1024 * GiB),
            MemtableBudgetBytes = s.Size("kv.memtable-budget", 1 << 20, 1024 * GiB),
            SharedCommitLog = s.Choice("kv.storage.commit-log", CommitLogModes),
            CommitLogSegmentBytes = s.Size("kv.storage.commit-log-segment-size", 64 * 1024, 4 * GiB),
            CommitLogTotalBytes = s.Size("kv.storage.commit-log-total-size", 128 * 1024, 1024 * GiB),
            CommitLogGroupWindow = s.Duration("kv.storage.commit-log-group-window", TimeSpan.Zero, TimeSpan.FromSeconds(1)),
            LeaveTimeout = s.Duration("kv.leave-timeout", TimeSpan.FromSeconds(1), Week),
            ChaosEnabled = s.Bool("kv.chaos.enabled"),
            Namespaces = namespaces,
            Storage = storage,
            Handoff = new HandoffOptions
            {
                Concurrency = s.Int("kv.handoff.concurrency", 1, 64),
                BatchBytes = (int)s.Size("kv.handoff.batch-size", 1024, 64L << 20),
                MaxBytesPerSecond = s.Size("kv.handoff.max-bytes-per-second", 0, 1024 * GiB),
                AckTimeout = s.Duration("kv.handoff.ack-timeout", Ms, Day),
                RetryDelay = s.Duration("kv.handoff.retry-delay", Ms, Day),
                ForwardingGrace = s.Duration("kv.handoff.forwarding-grace", TimeSpan.Zero, Day),
            },
        };
        try
        {
            store.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(e.Message.Split(Environment.NewLine)[0]);
        }
        return new NodeSettings(systemName, system, store, s.Bool("kv.leave-on-shutdown"), configFile);
    }

    private static NamespaceProps ReadNamespace(SettingsReader s, string name, NamespaceProps inherited, bool inherit)
    {
        string p = $"kv.namespaces.{name}.";
        int Int(string k, int fallback) => !inherit || s.Has(p + k) ? s.Int(p + k, 0, 1000) : fallback;
        bool Bool(string k, bool fallback) => !inherit || s.Has(p + k) ? s.Bool(p + k) : fallback;
        var props = new NamespaceProps
        {
            NVal = Int("n-val", inherited.NVal),
            R = Int("r", inherited.R),
            W = Int("w", inherited.W),
            DW = Int("dw", inherited.DW),
            PR = Int("pr", inherited.PR),
            PW = Int("pw", inherited.PW),
            NotFoundOk = Bool("notfound-ok", inherited.NotFoundOk),
            BasicQuorum = Bool("basic-quorum", inherited.BasicQuorum),
            AllowMult = Bool("allow-mult", inherited.AllowMult),
            LastWriteWins = Bool("last-write-wins", inherited.LastWriteWins),
            SiblingsWarn = !inherit || s.Has(p + "siblings-warn") ? s.Int(p + "siblings-warn", 1, 100_000) : inherited.SiblingsWarn,
            SiblingsMax = !inherit || s.Has(p + "siblings-max") ? s.Int(p + "siblings-max", 1, 100_000) : inherited.SiblingsMax,
            Timeout = !inherit || s.Has(p + "timeout") ? s.Duration(p + "timeout", Ms, TimeSpan.FromHours(1)) : inherited.Timeout,
        };
        if (name.Length is 0 or > 255)
            throw new ConfigException($"kv.namespaces: a namespace name must be 1..255 bytes ('{name}')");
        try
        {
            return props.Validate(name);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ConfigException($"kv.namespaces.{name}: " + e.Message.Split(Environment.NewLine)[0]);
        }
    }
}
