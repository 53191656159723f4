using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Kv.Storage;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Metrics;

/// <summary>
/// The node's metrics: one <see cref="Meter"/> named <see cref="MeterName"/> per actor system (an
/// Akka extension, so every actor of the node reaches it with <see cref="For"/> and nothing is
/// passed around). Requests are recorded where they finish (the coordinators): a count per
/// (op, ns, outcome) kept in plain counters and a latency histogram with the same tags; the rest
/// (hints, anti-entropy, handoff, storage, members, vnode mailboxes) are plain counters or state
/// read when collected, published as observable instruments. The same values make the node's
/// <see cref="MetricsSnapshot"/> (`kv stats`, the dashboard), so both show what /metrics shows.
/// A process that runs several nodes (tests) has one meter per node, all named "Kv".
/// </summary>
public sealed class KvMetrics : IExtension, IDisposable
{
    /// <summary>The meter's name (what an exporter subscribes to).</summary>
    public const string MeterName = "Kv";

    /// <summary>Namespaces beyond this many get the tag value <see cref="OtherNamespace"/> (bounded label cardinality).</summary>
    public const int MaxNamespaces = 128;

    public const string OtherNamespace = "(other)";

    private const int Recent = 1024; // latencies kept for the percentiles of the snapshot
    private const int Seconds = 16;  // per-second request counts kept for the rate

    private readonly ExtendedActorSystem _system;
    private readonly Meter _meter;
    private readonly Histogram<double> _duration;
    private readonly Histogram<int> _siblings;
    private readonly List<Observed> _observed = [];
    private readonly ConcurrentDictionary<(string Op, string Ns, string Outcome), StrongBox<long>> _requests = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _quorumFailures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<byte[], string> _namespaces = new(ByteArrayComparer.Instance);
    private readonly ConcurrentDictionary<int, IActorRef> _vnodes = new();
    private readonly double[] _recent = new double[Recent];
    private long _recentNext = -1;
    private readonly long[] _secondStamp = new long[Seconds];
    private readonly long[] _secondCount = new long[Seconds];
    private readonly object _secondsGate = new();
    private long _hintsQueued, _hintsDelivered, _hintsDropped, _hintsPending, _hintsPendingBytes;
    private long _aaeExchanges, _aaeFailed, _aaeKeysRepaired;
    private long _handoffBytes, _handoffKeys, _handoffPartitions;
    private KvStats? _stats;
    private StorageEnvironment? _storage;
    private (long At, IReadOnlyList<StorageStatistics> Stats) _storageCache = (0, []);

    /// <summary>A value read when collected: its name, what it is, and how to read it (value and tags).</summary>
    private sealed record Observed(string Name, string? Unit, string Description, bool Counter, Func<IEnumerable<Measurement<double>>> Read);

    /// <summary>The metrics of <paramref name="system"/>'s node (created on first use, disposed with the system).</summary>
    public static KvMetrics For(ActorSystem system) => system.WithExtension<KvMetrics, Provider>();

    /// <summary>Creates the extension for an actor system (Akka calls it once per system).</summary>
    public sealed class Provider : ExtensionIdProvider<KvMetrics>
    {
        public override KvMetrics CreateExtension(ExtendedActorSystem system) => new(system);
    }

    private KvMetrics(ExtendedActorSystem system)
    {
        _system = system;
        _meter = new Meter(MeterName, "1.0");
        _duration = _meter.CreateHistogram<double>("kv.request.duration", "s", "Latency of requests this node coordinated, by op, ns and outcome",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _siblings = _meter.CreateHistogram<int>("kv.siblings", null, "Siblings per object read (successful gets this node coordinated)",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 5, 10, 25, 50, 100] });

        // Requests.
        Counter("kv.requests", "Requests this node coordinated, by op, ns and outcome", () =>
            _requests.Select(r => new Measurement<double>(Interlocked.Read(ref r.Value.Value),
                new KeyValuePair<string, object?>("op", r.Key.Op), new KeyValuePair<string, object?>("ns", r.Key.Ns), new KeyValuePair<string, object?>("outcome", r.Key.Outcome))));
        Counter("kv.quorum.failures", "Requests that did not reach their quorum (r, w, dw, pr, pw), by op", () =>
            _quorumFailures.Select(q => new Measurement<double>(Interlocked.Read(ref q.Value.Value), new KeyValuePair<string, object?>("op", q.Key))));
        Counter("kv.requests.refused", "Requests refused before they ran (bad arguments, no ring, too few primaries)", () => One(_stats?.Failed ?? 0));
        Counter("kv.requests.forwarded", "Writes forwarded to a node in the key's preference list", () => One(_stats?.Forwarded ?? 0));
        Counter("kv.read_repairs", "Replicas brought up to date by reads", () => One(_stats?.ReadRepairs ?? 0));
        Counter("kv.tombstones.reaped", "Deleted keys whose tombstones were reaped", () => One(_stats?.TombstonesReaped ?? 0));
        Counter("kv.corrupt_reads", "Reads of a vnode that hit a damaged block", () => One(_stats?.CorruptReads ?? 0));

        // Hints.
        Counter("kv.hints.queued", "Hints stored for an unreachable primary", () => One(Interlocked.Read(ref _hintsQueued)));
        Counter("kv.hints.delivered", "Hints delivered to their primary", () => One(Interlocked.Read(ref _hintsDelivered)));
        Counter("kv.hints.dropped", "Hints refused (hint window passed, per-target cap reached, journal refused)", () => One(Interlocked.Read(ref _hintsDropped)));
        Gauge("kv.hints.pending", null, "Hints held now", () => One(Interlocked.Read(ref _hintsPending)));
        Gauge("kv.hints.pending.size", "By", "Bytes of hints held now", () => One(Interlocked.Read(ref _hintsPendingBytes)));

        // Anti-entropy and handoff.
        Counter("kv.aae.exchanges", "Anti-entropy exchanges finished, by outcome (ok, failed)", () =>
        [
            new Measurement<double>(Interlocked.Read(ref _aaeExchanges) - Interlocked.Read(ref _aaeFailed), new KeyValuePair<string, object?>("outcome", "ok")),
            new Measurement<double>(Interlocked.Read(ref _aaeFailed), new KeyValuePair<string, object?>("outcome", "failed")),
        ]);
        Counter("kv.aae.keys_repaired", "Keys repaired by anti-entropy exchanges", () => One(Interlocked.Read(ref _aaeKeysRepaired)));
        Counter("kv.handoff.size", "By", "Bytes handed off to other nodes (acknowledged)", () => One(Interlocked.Read(ref _handoffBytes)));
        Counter("kv.handoff.keys", "Keys handed off to other nodes (acknowledged)", () => One(Interlocked.Read(ref _handoffKeys)));
        Counter("kv.handoff.partitions", "Partition transfers (and sweeps) finished", () => One(Interlocked.Read(ref _handoffPartitions)));

        // Storage: summed over the node's engines (vnodes and hint store).
        Gauge("kv.storage.memtable.size", "By", "Bytes in the memtables of every engine", () => One(_storage?.MemtableUsage ?? 0));
        Gauge("kv.storage.engines", null, "Open storage engines", () => One(_storage?.EngineCount ?? 0));
        Counter("kv.storage.flushes", "Memtable flushes", () => One(Storage().Sum(s => s.Flushes)));
        Counter("kv.storage.compactions", "Compactions", () => One(Storage().Sum(s => s.Compactions)));
        Counter("kv.storage.write_stalls", "Writes stalled until a flush or compaction caught up", () => One(Storage().Sum(s => s.Stalls)));
        Counter("kv.storage.write_slowdowns", "Writes slowed down to let compaction catch up", () => One(Storage().Sum(s => s.Slowdowns)));
        Counter("kv.storage.block_cache.hits", "Block-cache hits", () => One(_storage?.BlockCache.Hits ?? 0));
        Counter("kv.storage.block_cache.misses", "Block-cache misses", () => One(_storage?.BlockCache.Misses ?? 0));
        Gauge("kv.storage.block_cache.hit_ratio", null, "Block-cache hits / lookups since start (0 with no lookups)", () => One(HitRatio()));
        Gauge("kv.storage.block_cache.usage", "By", "Bytes held by the block cache", () => One(_storage?.BlockCache.Usage ?? 0));
        Counter("kv.storage.commitlog.syncs", "Commit-log (WAL) syncs to disk", () => One(CommitLogSyncs()));
        Gauge("kv.storage.tables.size", "By", "Bytes of sorted tables on disk", () => One(Storage().Sum(s => s.LevelBytes.Sum())));

        // Akka: members and vnode mailboxes.
        Gauge("kv.cluster.members", null, "Members of the cluster by status, as this node sees them", MembersByStatus);
        Gauge("kv.cluster.unreachable", null, "Members this node sees as unreachable", () => One(ClusterExt.Get(_system).State.Unreachable.Count));
        Gauge("kv.vnodes", null, "Vnodes running on this node", () => One(_vnodes.Count));
        Gauge("kv.vnode.mailbox.depth", null, "Messages waiting in the vnodes' mailboxes (stat: max over vnodes, total)", MailboxDepth);

        system.RegisterOnTermination(Dispose);
    }

    /// <summary>Gives the snapshot and the storage gauges the node's counters and storage (the node calls it once at start).</summary>
    public void Attach(KvStats stats, StorageEnvironment storage) => (_stats, _storage) = (stats, storage);

    // ---- Recording (cheap: no allocation beyond the histogram's TagList) ----

    /// <summary>The namespace's tag value: its name, cached per byte string (at most <see cref="MaxNamespaces"/>).</summary>
    public string Namespace(byte[] ns)
    {
        if (_namespaces.TryGetValue(ns, out var name))
            return name;
        if (_namespaces.Count >= MaxNamespaces)
            return OtherNamespace;
        name = Encoding.UTF8.GetString(ns);
        _namespaces.TryAdd((byte[])ns.Clone(), name);
        return name;
    }

    /// <summary>A request finished: count it, time it (<paramref name="startedAt"/> from <see cref="Stopwatch.GetTimestamp"/>).</summary>
    public void Request(string op, string ns, object result, long startedAt)
    {
        string outcome = OutcomeOf(result);
        double seconds = Stopwatch.GetElapsedTime(startedAt).TotalSeconds;
        var tags = new TagList { { "op", op }, { "ns", ns }, { "outcome", outcome } };
        _duration.Record(seconds, in tags);
        Interlocked.Increment(ref _requests.GetOrAdd((op, ns, outcome), static _ => new StrongBox<long>()).Value);
        if (outcome == "quorum_failed")
            QuorumFailed(op);
        _recent[(int)(Interlocked.Increment(ref _recentNext) & (Recent - 1))] = seconds * 1000;
        CountSecond();
    }

    /// <summary>The outcome tag of a coordinator's answer.</summary>
    public static string OutcomeOf(object result) => result switch
    {
        Coordinators.GetSucceeded or Coordinators.PutSucceeded or Coordinators.UpdateSucceeded => "ok",
        Coordinators.NotFound => "not_found",
        Coordinators.QuorumNotMet => "quorum_failed",
        Coordinators.PutRefused => "refused",
        _ => "error",
    };

    /// <summary>A request did not reach its quorum (before or while it ran).</summary>
    public void QuorumFailed(string op) => Interlocked.Increment(ref _quorumFailures.GetOrAdd(op, static _ => new StrongBox<long>()).Value);

    /// <summary>An object was read with <paramref name="count"/> siblings.</summary>
    public void Siblings(int count) => _siblings.Record(count);

    public void HintQueued() => Interlocked.Increment(ref _hintsQueued);

    public void HintsDelivered(long count) => Interlocked.Add(ref _hintsDelivered, count);

    public void HintDropped() => Interlocked.Increment(ref _hintsDropped);

    /// <summary>What the hint store holds now (it sets this after every change).</summary>
    public void HintsHeld(long count, long bytes)
    {
        Interlocked.Exchange(ref _hintsPending, count);
        Interlocked.Exchange(ref _hintsPendingBytes, bytes);
    }

    public void AaeExchanged(long keysRepaired, bool failed)
    {
        Interlocked.Increment(ref _aaeExchanges);
        if (failed)
            Interlocked.Increment(ref _aaeFailed);
        Interlocked.Add(ref _aaeKeysRepaired, keysRepaired);
    }

    public void HandedOff(long keys, long bytes)
    {
        Interlocked.Add(ref _handoffKeys, keys);
        Interlocked.Add(ref _handoffBytes, bytes);
    }

    public void HandoffFinished() => Interlocked.Increment(ref _handoffPartitions);

    public void VnodeStarted(int partition, IActorRef vnode) => _vnodes[partition] = vnode;

    public void VnodeStopped(int partition, IActorRef vnode) => _vnodes.TryRemove(new KeyValuePair<int, IActorRef>(partition, vnode));

    // ---- Reading ----

    /// <summary>Every value as /metrics has it (histograms as count and percentiles), and the recent request rate and latency.</summary>
    public MetricsSnapshot Snapshot(string node)
    {
        var samples = new List<MetricSample>();
        foreach (var o in _observed)
        {
            foreach (var m in o.Read())
                samples.Add(new MetricSample(o.Name, Labels(m.Tags), m.Value));
        }
        var (rate, p50, p99, max) = RecentRequests();
        samples.Add(new MetricSample("kv.requests.rate", "", rate));
        samples.Add(new MetricSample("kv.request.latency.p50", "", p50));
        samples.Add(new MetricSample("kv.request.latency.p99", "", p99));
        samples.Add(new MetricSample("kv.request.latency.max", "", max));
        return new MetricsSnapshot(node, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), samples);
    }

    /// <summary>Requests per second over the last 5 whole seconds, and the percentiles (ms) of the last 1024 latencies.</summary>
    public (double Rate, double P50, double P99, double Max) RecentRequests()
    {
        long now = Environment.TickCount64 / 1000;
        long count = 0;
        for (long s = now - 5; s < now; s++)
        {
            int slot = (int)(s & (Seconds - 1));
            if (Volatile.Read(ref _secondStamp[slot]) == s)
                count += Interlocked.Read(ref _secondCount[slot]);
        }
        long recorded = Interlocked.Read(ref _recentNext) + 1;
        var latencies = _recent.AsSpan(0, (int)Math.Min(recorded, Recent)).ToArray();
        Array.Sort(latencies);
        double Pct(double q) => latencies.Length == 0 ? 0 : latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))];
        return (count / 5.0, Pct(0.50), Pct(0.99), latencies.Length == 0 ? 0 : latencies[^1]);
    }

    private void CountSecond()
    {
        long s = Environment.TickCount64 / 1000;
        int slot = (int)(s & (Seconds - 1));
        if (Volatile.Read(ref _secondStamp[slot]) != s)
        {
            lock (_secondsGate)
            {
                if (_secondStamp[slot] != s)
                {
                    Interlocked.Exchange(ref _secondCount[slot], 0);
                    Volatile.Write(ref _secondStamp[slot], s);
                }
            }
        }
        Interlocked.Increment(ref _secondCount[slot]);
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
            return "";
        var b = new StringBuilder();
        foreach (var t in tags)
        {
            if (b.Length > 0)
                b.Append(',');
            b.Append(t.Key).Append('=').Append(Convert.ToString(t.Value, CultureInfo.InvariantCulture));
        }
        return b.ToString();
    }

    private void Counter(string name, string description, Func<IEnumerable<Measurement<double>>> read) => Counter(name, null, description, read);

    private void Counter(string name, string? unit, string description, Func<IEnumerable<Measurement<double>>> read)
    {
        _observed.Add(new Observed(name, unit, description, true, read));
        _meter.CreateObservableCounter(name, read, unit, description);
    }

    private void Gauge(string name, string? unit, string description, Func<IEnumerable<Measurement<double>>> read)
    {
        _observed.Add(new Observed(name, unit, description, false, read));
        _meter.CreateObservableGauge(name, read, unit, description);
    }

    private static Measurement<double>[] One(double value) => [new Measurement<double>(value)];

    /// <summary>Every engine's statistics, read at most every half second (one collection reads many instruments).</summary>
    private IReadOnlyList<StorageStatistics> Storage()
    {
        if (_storage is not { } env)
            return [];
        var cached = _storageCache;
        long now = Environment.TickCount64;
        if (now - cached.At < 500 && cached.At != 0)
            return cached.Stats;
        var stats = env.EngineStatistics();
        _storageCache = (now, stats);
        return stats;
    }

    private double HitRatio()
    {
        if (_storage is not { } env)
            return 0;
        long hits = env.BlockCache.Hits, lookups = hits + env.BlockCache.Misses;
        return lookups == 0 ? 0 : (double)hits / lookups;
    }

    private long CommitLogSyncs() => (_storage?.CommitLog?.Syncs ?? 0) + Storage().Sum(s => s.WalSyncs);

    private IEnumerable<Measurement<double>> MembersByStatus()
    {
        var state = ClusterExt.Get(_system).State;
        return Enum.GetValues<MemberStatus>().Select(status =>
            new Measurement<double>(state.Members.Count(m => m.Status == status), new KeyValuePair<string, object?>("status", status.ToString())));
    }

    private IEnumerable<Measurement<double>> MailboxDepth()
    {
        long total = 0, max = 0;
        foreach (var vnode in _vnodes.Values)
        {
            if (vnode is ActorRefWithCell { Underlying: { } cell })
            {
                int n = cell.NumberOfMessages;
                total += n;
                max = Math.Max(max, n);
            }
        }
        return
        [
            new Measurement<double>(max, new KeyValuePair<string, object?>("stat", "max")),
            new Measurement<double>(total, new KeyValuePair<string, object?>("stat", "total")),
        ];
    }

    /// <summary>This node's meter (tests tell it from the meters of other nodes in the same process).</summary>
    internal Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var h = new HashCode();
            h.AddBytes(obj);
            return h.ToHashCode();
        }
    }
}
