using System.Reflection;
using Kv.Actors;
using Kv.Actors.Coordinators;
using Kv.Actors.Ring;
using System.Collections;
using System.Globalization;
using System.Text;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Kv.Actors.Wire;
using Kv.Storage;
using Microsoft.Extensions.Logging;

namespace Kv.Node;

/// <summary>
/// Everything a node needs, read from configuration by Akka's HOCON: reference.conf (built in),
/// the file given with --config, environment variables, command-line flags, in that order. The
/// <c>kv.*</c> settings are checked (an unknown or wrong one stops the node naming it) and become
/// the store's options and the Akka configuration of the node's actor system (<see cref="Akka"/>:
/// remoting, cluster, split-brain resolver, serializers); an <c>akka { ... }</c> block in the file
/// goes to Akka as it is, under the settings Kv derives.
/// </summary>
public sealed record NodeSettings(
    string SystemName,
    Config Akka,
    KvNodeOptions Store,
    bool LeaveOnShutdown,
    string? ConfigFile,
    LogLevel LogLevel,
    IReadOnlyList<string> SeedNodes,
    string Hostname,
    int Port)
{
    /// <summary>The HTTP front end's listen address and port (kv.http; port 0: off).</summary>
    public FrontEndEndpoint Http { get; init; } = new("127.0.0.1", 0);

    /// <summary>The RESP front end's listen address and port (kv.resp; port 0: off).</summary>
    public FrontEndEndpoint Resp { get; init; } = new("127.0.0.1", 0);

    /// <summary>The RESP front end's keyspaces and limits (kv.resp.namespace etc.).</summary>
    public FrontEnds.Resp.RespOptions RespOptions { get; init; } = new("resp", "resp-hashes", "resp-sets", "resp-lists", 16 << 20);

    /// <summary>The `secure` profile's TLS setup for the actor system (null: plain TCP).</summary>
    public Akka.Remote.Transport.DotNetty.DotNettySslSetup? Ssl { get; init; }

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
        Config reference, merged, user = Config.Empty;
        try
        {
            reference = ConfigurationFactory.ParseString(Reference);
            merged = reference;
            if (args.ConfigFile is not null)
            {
                user = ParseFile(Path.GetFullPath(args.ConfigFile));
                merged = user.WithFallback(reference);
            }
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            throw new ConfigException(e.Message);
        }
        var env = EnvironmentOverrides(environment);
        var reader = SettingsReader.From(merged, reference, env, args.Overrides);
        var settings = From(reader, args.ConfigFile, args.Seeds);
        // The file's own akka { } block, under what Kv derives from kv.* and over Akka's defaults.
        return user.HasPath("akka") ? settings with { Akka = settings.Akka.WithFallback(user) } : settings;
    }

    /// <summary>A HOCON file with its includes (relative to the including file), by Akka's parser.</summary>
    private static Config ParseFile(string path)
    {
        if (!File.Exists(path))
            throw new ConfigException($"configuration file not found: {path}");
        string dir = Path.GetDirectoryName(path)!;
        HoconRoot Include(string name)
        {
            string included = Path.Combine(dir, name.Trim('"'));
            if (!File.Exists(included))
                throw new ConfigException($"{path}: include \"{name}\": no such file {included}");
            return Parser.Parse(Checked(included), Include);
        }
        try
        {
            return ConfigurationFactory.ParseString(Checked(path), Include);
        }
        catch (Exception e) when (e is not ConfigException)
        {
            throw new ConfigException($"{path}: {e.Message}");
        }
    }

    private static bool IsSelf(string seed, string host, int port) =>
        global::Akka.Actor.Address.Parse(seed) is { Host: { } h, Port: { } p } && p == port && string.Equals(h, host, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the ring stored in the data directory names a node other than <paramref name="self"/>.</summary>
    private static bool WasMemberWithOthers(string dataDirectory, string self)
    {
        try
        {
            var mine = global::Akka.Actor.Address.Parse(self);
            return RingFile.Read(Path.Combine(dataDirectory, RingManager.FileName)) is { } ring
                && ring.Members.Any(m => global::Akka.Actor.Address.Parse(m) is var a && (a.Host != mine.Host || a.Port != mine.Port));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or UriFormatException or FormatException or ArgumentException)
        {
            return false; // an unreadable ring is reported by the ring manager; the plain timeout applies
        }
    }

    /// <summary>A file's text once its brackets and strings are seen to be closed (see <see cref="HoconShape"/>).</summary>
    private static string Checked(string path)
    {
        string text = File.ReadAllText(path);
        return HoconShape.Problem(text) is string problem ? throw new ConfigException($"{path}: {problem}") : text;
    }

    /// <summary>KV__REMOTE__PORT=2552 -> kv.remote.port (the variables that start with KV__).</summary>
    private static List<KeyValuePair<string, string?>> EnvironmentOverrides(Func<string, string?>? environment)
    {
        var found = new List<KeyValuePair<string, string?>>();
        if (environment is not null)
            return found;
        // The first admin's password (docs/security.md); KV__SECURITY__INITIAL_ADMIN_PASSWORD, later, wins.
        if (System.Environment.GetEnvironmentVariable("KV_ADMIN_PASSWORD") is { Length: > 0 } admin)
            found.Add(new("kv.security.initial-admin-password", admin));
        foreach (DictionaryEntry e in System.Environment.GetEnvironmentVariables())
        {
            if (e.Key is string name && name.StartsWith("KV__", StringComparison.OrdinalIgnoreCase))
                found.Add(new(name, e.Value as string));
        }
        return found;
    }

    private static readonly Dictionary<string, LogLevel> LogLevels = new()
    {
        ["trace"] = LogLevel.Trace, ["debug"] = LogLevel.Debug, ["information"] = LogLevel.Information, ["info"] = LogLevel.Information,
        ["warning"] = LogLevel.Warning, ["error"] = LogLevel.Error, ["critical"] = LogLevel.Critical, ["none"] = LogLevel.None,
    };

    private static readonly Dictionary<string, string> Strategies = new()
    {
        ["keep-majority"] = "keep-majority", ["static-quorum"] = "static-quorum",
        ["keep-oldest"] = "keep-oldest", ["down-all"] = "down-all", ["off"] = "off",
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
        string hostname = s.String("kv.remote.hostname");
        if (hostname.Length == 0)
            throw new ConfigException("kv.remote.hostname must not be empty");
        int port = s.Int("kv.remote.port", 0, 65535);
        string publicHostname = s.String("kv.remote.public-hostname");
        long frame = s.Size("kv.remote.maximum-frame-size", 32 * 1024, 64L << 20);
        string systemName = s.String("kv.system-name");
        if (systemName.Length == 0 || !systemName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new ConfigException($"kv.system-name = '{systemName}': letters, digits, '-' and '_' only");
        var seeds = seedOverride is { Count: > 0 } ? seedOverride : s.List("kv.cluster.seed-nodes");
        foreach (string seed in seeds)
        {
            global::Akka.Actor.Address a;
            try
            {
                a = global::Akka.Actor.Address.Parse(seed);
            }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                throw new ConfigException($"kv.cluster.seed-nodes: '{seed}' is not an address (akka.tcp://{systemName}@host:port)");
            }
            if (a.Protocol is not ("akka.tcp" or "akka.trttl.tcp" or "akka.ssl.tcp") || a.Host is null || a.Port is null)
                throw new ConfigException($"kv.cluster.seed-nodes: '{seed}' is not an address (akka.tcp://{systemName}@host:port)");
            if (a.System != systemName)
                throw new ConfigException($"kv.cluster.seed-nodes: '{seed}' names the system '{a.System}', but kv.system-name is '{systemName}'");
        }
        bool chaos = s.Bool("kv.chaos.enabled");
        if (chaos) // the throttler adapter names the transport akka.trttl.tcp; every peer must use it
            seeds = seeds.Select(x => x.Replace("akka.tcp://", "akka.trttl.tcp://", StringComparison.Ordinal)).ToList();
        string strategy = s.Choice("kv.cluster.split-brain-resolver.active-strategy", Strategies);
        int quorum = s.Int("kv.cluster.split-brain-resolver.static-quorum-size", 0, 10_000);
        if (strategy == "static-quorum" && quorum < 1)
            throw new ConfigException("kv.cluster.split-brain-resolver.static-quorum-size must be >= 1 with active-strategy = static-quorum");
        var secure = s.Bool("kv.remote.secure.enabled")
            ? (Certificate: s.String("kv.remote.secure.certificate-path"), Password: s.String("kv.remote.secure.certificate-password"),
                Ca: s.String("kv.remote.secure.ca-certificate-path"))
            : default((string Certificate, string Password, string Ca)?);
        if (secure is { } sec && (sec.Certificate.Length == 0 || sec.Ca.Length == 0))
            throw new ConfigException("kv.remote.secure: certificate-path and ca-certificate-path are required when enabled = on (`kv dev certs` makes a dev CA and certificates)");
        if (secure is not null && chaos)
            throw new ConfigException("kv.chaos.enabled and kv.remote.secure.enabled cannot both be on (the fault injection adapter runs on plain TCP)");
        Akka.Remote.Transport.DotNetty.DotNettySslSetup? ssl = null;
        if (secure is { } tls)
        {
            try
            {
                ssl = KvSecurity.SslSetup(tls.Certificate, tls.Password, tls.Ca);
            }
            catch (ArgumentException e)
            {
                throw new ConfigException("kv.remote.secure: " + e.Message);
            }
            // TLS names the transport akka.ssl.tcp; seeds follow.
            seeds = seeds.Select(x => x.Replace("akka.tcp://", "akka.ssl.tcp://", StringComparison.Ordinal)).ToList();
        }
        var logLevel = s.Choice("kv.actor.log-level", LogLevels);
        var h = new StringBuilder();
        h.AppendLine("akka {");
        h.AppendLine($"  loglevel = {AkkaLevel(logLevel)}");
        h.AppendLine("  log-config-on-start = off");
        h.AppendLine($"  log-dead-letters = {s.Int("kv.actor.dead-letter-log-limit", 0, 1_000_000)}");
        h.AppendLine($"  log-dead-letters-suspend-duration = {Hocon(s.Duration("kv.actor.dead-letter-log-window", Ms, Day))}");
        h.AppendLine("  log-dead-letters-during-shutdown = off");
        h.AppendLine("  actor {");
        h.AppendLine("    provider = cluster");
        h.AppendLine($"    ask-timeout = {Hocon(s.Duration("kv.actor.ask-timeout", Ms, Day))}");
        h.AppendLine($"    default-dispatcher.throughput = {s.Int("kv.actor.throughput", 1, 1_000_000)}");
        h.AppendLine("  }");
        h.AppendLine($"  coordinated-shutdown.default-phase-timeout = {Hocon(s.Duration("kv.actor.shutdown-phase-timeout", Ms, Day))}");
        h.AppendLine("  remote.use-dispatcher = \"akka.actor.default-dispatcher\"");
        h.AppendLine("  remote.dot-netty.tcp {");
        h.AppendLine($"    hostname = {Quote(hostname)}");
        h.AppendLine($"    port = {port}");
        if (publicHostname.Length > 0)
            h.AppendLine($"    public-hostname = {Quote(publicHostname)}");
        h.AppendLine($"    maximum-frame-size = {frame}b");
        KvRemoting.AppendTransportTuning(h);
        if (chaos)
            h.AppendLine("    applied-adapters = [\"trttl\"]");
        if (ssl is not null)
            KvSecurity.AppendHocon(h);
        h.AppendLine("  }");
        if (chaos)
            KvRemoting.AppendThrottledFailureDetector(h, TimeSpan.FromSeconds(20));
        h.AppendLine("  cluster {");
        h.AppendLine($"    seed-nodes = [{string.Join(", ", seeds.Select(Quote))}]");
        h.AppendLine($"    roles = [{string.Join(", ", s.List("kv.cluster.roles").Select(Quote))}]");
        h.AppendLine($"    gossip-interval = {Hocon(s.Duration("kv.cluster.gossip-interval", Ms, Day))}");
        h.AppendLine($"    leader-actions-interval = {Hocon(s.Duration("kv.cluster.leader-actions-interval", Ms, Day))}");
        var seedNodeTimeout = s.Duration("kv.cluster.seed-node-timeout", Ms, Day);
        var rejoinTimeout = s.Duration("kv.cluster.first-seed-rejoin-timeout", Ms, Day);
        if (rejoinTimeout > seedNodeTimeout && seeds.Count > 1 && IsSelf(seeds[0], publicHostname.Length > 0 ? publicHostname : hostname, port)
            && WasMemberWithOthers(s.String("kv.data-directory"), seeds[0]))
            seedNodeTimeout = rejoinTimeout;
        h.AppendLine($"    seed-node-timeout = {Hocon(seedNodeTimeout)}");
        h.AppendLine($"    retry-unsuccessful-join-after = {Hocon(s.Duration("kv.cluster.retry-unsuccessful-join-after", Ms, Day))}");
        h.AppendLine($"    allow-weakly-up-members = {(s.Bool("kv.cluster.allow-weakly-up-members") ? "on" : "off")}");
        h.AppendLine($"    prune-gossip-tombstones-after = {Hocon(s.Duration("kv.cluster.prune-gossip-tombstones-after", TimeSpan.FromMinutes(1), Week * 52))}");
        h.AppendLine("    run-coordinated-shutdown-when-down = on");
        h.AppendLine("    failure-detector {");
        h.AppendLine($"      heartbeat-interval = {Hocon(s.Duration("kv.cluster.heartbeat-interval", Ms, Day))}");
        h.AppendLine($"      threshold = {s.Double("kv.cluster.failure-detector.threshold", 1, 100).ToString(CultureInfo.InvariantCulture)}");
        h.AppendLine($"      acceptable-heartbeat-pause = {Hocon(s.Duration("kv.cluster.failure-detector.acceptable-heartbeat-pause", TimeSpan.Zero, Day))}");
        h.AppendLine($"      min-std-deviation = {Hocon(s.Duration("kv.cluster.failure-detector.min-std-deviation", Ms, Day))}");
        h.AppendLine($"      max-sample-size = {s.Int("kv.cluster.failure-detector.max-sample-size", 1, 1_000_000)}");
        h.AppendLine($"      monitored-by-nr-of-members = {s.Int("kv.cluster.failure-detector.monitored-by-nr-of-members", 1, 1000)}");
        h.AppendLine("    }");
        if (strategy != "off")
        {
            h.AppendLine("    downing-provider-class = \"Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster\"");
            h.AppendLine("    split-brain-resolver {");
            h.AppendLine($"      active-strategy = {strategy}");
            h.AppendLine($"      stable-after = {Hocon(s.Duration("kv.cluster.split-brain-resolver.stable-after", Ms, Day))}");
            h.AppendLine($"      down-all-when-unstable = {(s.Bool("kv.cluster.split-brain-resolver.down-all-when-unstable") ? "on" : "off")}");
            if (strategy == "static-quorum")
                h.AppendLine($"      static-quorum.quorum-size = {quorum}");
            h.AppendLine($"      keep-oldest.down-if-alone = {(s.Bool("kv.cluster.split-brain-resolver.keep-oldest-down-if-alone") ? "on" : "off")}");
            h.AppendLine("    }");
        }
        else
        {
            h.AppendLine("    downing-provider-class = \"\"");
        }
        h.AppendLine("  }");
        h.AppendLine("  extensions = [\"Akka.Cluster.Tools.Client.ClusterClientReceptionistExtensionProvider, Akka.Cluster.Tools\"]");
        h.AppendLine("}");
        var akka = ConfigurationFactory.ParseString(h.ToString()).WithFallback(KvSerializer.Config);
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
            TtlClockSkewTolerance = s.Duration("kv.ttl.clock-skew-tolerance", TimeSpan.Zero, TimeSpan.FromHours(1)),
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
            PermanentFailureAfter = s.Duration("kv.cluster.permanent-failure-after", TimeSpan.Zero, 52 * Week),
            Aae = new Kv.Actors.Aae.AaeOptions
            {
                Enabled = s.Bool("kv.aae.enabled"),
                ExchangeInterval = s.Duration("kv.aae.exchange-interval", Ms, Week),
                Concurrency = s.Int("kv.aae.concurrency", 1, 64),
                TreeRebuildInterval = s.Duration("kv.aae.tree-rebuild-interval", TimeSpan.FromSeconds(1), 52 * Week),
                BuildBytesPerSecond = s.Size("kv.aae.build-rate", 0, 1024 * GiB),
                MaxKeysPerExchange = s.Int("kv.aae.max-keys-per-exchange", 1, 1_000_000),
                ScrubInterval = s.Duration("kv.aae.scrub-interval", TimeSpan.FromSeconds(1), 52 * Week),
            },
            Backup = new Kv.Actors.Backup.BackupOptions
            {
                Schedule = s.String("kv.backup.schedule").Trim() is "off" or "" ? null : s.Duration("kv.backup.schedule", TimeSpan.FromSeconds(1), 52 * Week),
                Directory = s.String("kv.backup.directory") is { Length: > 0 } backupDirectory ? backupDirectory : null,
                Keep = s.Int("kv.backup.keep", 1, 10_000),
            },
            ChaosEnabled = chaos,
            Security = Security(s, secure is not null, hostname),
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
            Hints = new Kv.Actors.Hints.HintOptions
            {
                MaxBytesPerTarget = s.Size("kv.hints.max-size-per-target", 0, 1024 * GiB),
                Window = s.Duration("kv.hints.window", TimeSpan.Zero, Week * 52),
                DeliveryInterval = s.Duration("kv.hints.delivery-interval", Ms, Day),
                BatchSize = s.Int("kv.hints.batch-size", 1, 100_000),
                AckTimeout = s.Duration("kv.hints.ack-timeout", Ms, Day),
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
        // The handoff runs in coordinated shutdown's first phase: give it the whole leave timeout.
        akka = ConfigurationFactory.ParseString(
            $"akka.coordinated-shutdown.phases.before-service-unbind.timeout = {Hocon(store.LeaveTimeout + TimeSpan.FromSeconds(30))}").WithFallback(akka);
        var http = FrontEnd(s, "kv.http", hostname);
        var resp = FrontEnd(s, "kv.resp", hostname);
        if (!store.Security.Authentication)
        {
            // Without authentication anyone who reaches a port may do anything: loopback only.
            foreach (var (key, host, on) in new[] { ("kv.remote.hostname", hostname, true), ("kv.http", http.Hostname, http.Port != 0), ("kv.resp", resp.Hostname, resp.Port != 0) })
            {
                if (on && !Kv.Actors.Security.KvAccessControl.IsLoopbackHost(host))
                    throw new ConfigException($"{key} listens on '{host}', which is not loopback, but kv.security.authentication is off: anyone who " +
                        "reaches that address could read, write and administer the cluster. Turn authentication on (kv.security.authentication = on, " +
                        "with kv.security.initial-admin-password or KV_ADMIN_PASSWORD for the first admin; docs/security.md), or listen on 127.0.0.1");
            }
        }
        return new NodeSettings(systemName, akka, store, s.Bool("kv.leave-on-shutdown"), configFile, logLevel, seeds, hostname, port)
        {
            Ssl = ssl,
            Http = http with { Tls = HttpTls(s, secure) },
            Resp = resp,
            RespOptions = FrontEnds.Resp.RespOptions.Read(s, store),
        };
    }

    /// <summary>kv.security; the secure profile implies authentication on and anonymous access off.</summary>
    private static Kv.Actors.Security.SecurityOptions Security(SettingsReader s, bool secureProfile, string hostname)
    {
        string password = s.String("kv.security.initial-admin-password");
        var lockout = s.Duration("kv.security.lockout", TimeSpan.Zero, Day);
        var maxLockout = s.Duration("kv.security.max-lockout", TimeSpan.Zero, Week);
        if (maxLockout < lockout)
            throw new ConfigException("kv.security.max-lockout must be at least kv.security.lockout");
        return new Kv.Actors.Security.SecurityOptions
        {
            Authentication = secureProfile || s.Bool("kv.security.authentication"),
            AnonymousLoopback = !secureProfile && s.Choice("kv.security.anonymous", AnonymousModes),
            RemoteIsLoopback = Kv.Actors.Security.KvAccessControl.IsLoopbackHost(hostname),
            InitialAdminPassword = password.Length == 0 ? null : password,
            TokenLifetime = s.Duration("kv.security.token-lifetime", TimeSpan.FromSeconds(10), TimeSpan.FromDays(30)),
            HashIterations = s.Int("kv.security.hash-iterations", 1000, 10_000_000),
            MaxFailures = s.Int("kv.security.max-failed-logins", 1, 1000),
            LockoutBase = lockout,
            LockoutMax = maxLockout,
            GossipInterval = s.Duration("kv.security.gossip-interval", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
        };
    }

    private static readonly Dictionary<string, bool> AnonymousModes = new() { ["loopback"] = true, ["off"] = false };

    private static FrontEndEndpoint FrontEnd(SettingsReader s, string path, string remoteHostname)
    {
        string host = s.String(path + ".hostname");
        return new FrontEndEndpoint(host.Length == 0 ? remoteHostname : host, s.Int(path + ".port", 0, 65535));
    }

    /// <summary>kv.http.tls (or the `secure` profile): HTTPS with the node's certificate from kv.remote.secure.</summary>
    private static FrontEndTls? HttpTls(SettingsReader s, (string Certificate, string Password, string Ca)? secure)
    {
        if (!s.Bool("kv.http.tls") && secure is null)
            return null;
        string path = s.String("kv.remote.secure.certificate-path");
        if (path.Length == 0)
            throw new ConfigException("kv.http.tls = on needs the node's certificate: kv.remote.secure.certificate-path (and certificate-password)");
        return new FrontEndTls(path, s.String("kv.remote.secure.certificate-password"));
    }

    private static string Quote(string v) => "\"" + v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Hocon(TimeSpan t) => ((long)Math.Ceiling(t.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

    private static string AkkaLevel(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO",
        LogLevel.Warning => "WARNING",
        _ => "ERROR",
    };

    private static Kv.Actors.Crdt.Datatype Datatype(SettingsReader s, string key)
    {
        string value = s.String(key);
        try
        {
            return Kv.Actors.Crdt.CrdtValues.Parse(value);
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"{key} = {value}: {e.Message}");
        }
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
            SloppyQuorum = Bool("sloppy-quorum", inherited.SloppyQuorum),
            AllowMult = Bool("allow-mult", inherited.AllowMult),
            LastWriteWins = Bool("last-write-wins", inherited.LastWriteWins),
            SiblingsWarn = !inherit || s.Has(p + "siblings-warn") ? s.Int(p + "siblings-warn", 1, 100_000) : inherited.SiblingsWarn,
            SiblingsMax = !inherit || s.Has(p + "siblings-max") ? s.Int(p + "siblings-max", 1, 100_000) : inherited.SiblingsMax,
            Timeout = !inherit || s.Has(p + "timeout") ? s.Duration(p + "timeout", Ms, TimeSpan.FromHours(1)) : inherited.Timeout,
            Datatype = !inherit || s.Has(p + "datatype") ? Datatype(s, p + "datatype") : inherited.Datatype,
            Consistent = Bool("consistent", inherited.Consistent),
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

/// <summary>Where a front end (HTTP, RESP) listens; <see cref="Port"/> 0: the front end is off.</summary>
public sealed record FrontEndEndpoint(string Hostname, int Port)
{
    public bool Enabled => Port != 0;

    /// <summary>TLS on this front end's port (null: plain).</summary>
    public FrontEndTls? Tls { get; init; }
}

/// <summary>The certificate a front end serves TLS with: a PKCS#12 file and its password.</summary>
public sealed record FrontEndTls(string CertificatePath, string Password);
