using System.Text;
using Kv.Actors.Admin;
using Kv.Actors.Coordinators;
using Kv.Actors.Hints;
using Kv.Actors.Persistence;
using Akka.Pattern;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.Event;
using Kv.Storage;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors;

/// <summary>
/// The store on one node: starts the ring manager (/user/kv-ring), the vnode manager
/// (/user/kv-vnodes, with one storage environment shared by all vnodes) and the request router
/// (/user/kv) on a clustered actor system, and offers Task-returning calls for local callers
/// (the node host, the client library, tests). Results are the coordinator messages:
/// <see cref="PutSucceeded"/>, <see cref="GetSucceeded"/>, <see cref="NotFound"/>,
/// <see cref="QuorumNotMet"/>, <see cref="PutRefused"/>, <see cref="RequestFailed"/>.
/// </summary>
public sealed class KvNode
{
    private readonly ActorSystem _system;
    private readonly StorageEnvironment _environment;

    private KvNode(ActorSystem system, KvNodeOptions options, Security.KvAccessControl? access)
    {
        _system = system;
        Options = options;
        Self = ClusterExt.Get(system).SelfAddress.ToString();
        Access = access ?? new Security.KvAccessControl(options.Security);
        Access.Bind(system);
        var commitLog = options.SharedCommitLog
            ? new CommitLog(Path.Combine(options.DataDirectory, "commitlog"), segmentBytes: options.CommitLogSegmentBytes,
                maxSegments: (int)Math.Max(2, options.CommitLogTotalBytes / options.CommitLogSegmentBytes),
                groupWindow: options.CommitLogGroupWindow)
            : null;
        string commitLogDirectory = Path.Combine(options.DataDirectory, "commitlog");
        if (commitLog is null && Directory.Exists(commitLogDirectory) && Directory.EnumerateFiles(commitLogDirectory, "*.clog").Any())
            throw new IOException($"kv.storage.commit-log is per-vnode, but {commitLogDirectory} still holds writes of the shared commit log " +
                "(the node did not stop cleanly): start the node once with commit-log = shared and stop it cleanly, then switch");
        if (commitLog?.RecoveryNote is string note)
            system.Log.Warning($"commit log: {note}");
        _environment = new StorageEnvironment(options.BlockCacheBytes, options.MemtableBudgetBytes, commitLog: commitLog);
        // The hint store's journal and snapshots: engines in data/hints, writing ahead to the shared commit log.
        KvPersistenceStorage.Register(system, Path.Combine(options.DataDirectory, "hints"), _environment,
            options.Storage with { WriteBufferSize = Math.Min(options.Storage.WriteBufferSize, 4L << 20) });
        system.Settings.InjectTopLevelFallback(KvPersistenceStorage.PluginConfig);
        Metrics.KvMetrics.For(system).Attach(Stats, _environment);
        RingManager = system.ActorOf(KvProps.Of(() => new RingManager(options, Self)), KvPaths.RingManager);
        Vnodes = system.ActorOf(KvProps.Of(() => new VnodeManager(options, Self, _environment)), KvPaths.VnodeManager);
        // Sharding (its coordinator singleton, its regions' handoff at leave) runs only where a
        // namespace asks for it: a store without consistent namespaces is not slowed at all.
        PaxosRegion = options.Namespaces.Values.Any(n => n.Consistent) ? StartPaxosProposers(system, Self) : null;
        var guard = Access;
        Users = system.ActorOf(KvProps.Of(() => new Security.UserStore(guard, options.DataDirectory, Self)), KvPaths.Users);
        Router = system.ActorOf(KvProps.Of(() => new RequestRouter(options, Self, Stats) { Access = guard }), KvPaths.Router);
        Admin = system.ActorOf(KvProps.Of(() => new NodeAdmin(Self, options.PropsOf("default").NVal, () => LeaveAsync(options.LeaveTimeout, default), options.ChaosEnabled) { Access = guard, ConsistentNamespaces = options.ConsistentNamespaces() }), KvPaths.Admin);
        system.ActorOf(KvProps.Of(() => new KvStatsListener(Stats)), "kv-stats");
        system.ActorOf(KvProps.Of(() => new Aae.AaeSync(options.Aae, Self, options.Namespaces.Values.Select(n => n.NVal))), KvPaths.Aae);
        if (options.Backup.Schedule is not null)
        {
            string backups = options.Backup.Directory ?? Path.Combine(options.DataDirectory, "backups");
            system.ActorOf(KvProps.Of(() => new Backup.BackupScheduler(options.Backup, backups, Self)), "kv-backup");
        }
        // A persistent actor stops when its journal fails a write: started again after a pause
        // (Akka's backoff supervisor, which forwards what is sent to /user/kv-hints to it), it
        // recovers its hints from the journal.
        Hints = system.ActorOf(BackoffSupervisor.Props(Backoff.OnStop(KvProps.Of(() => new HintStore(Self, options.Hints)), "store",
            TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1)), KvPaths.HintStore);
        Stopped = system.WhenTerminated.ContinueWith(_ =>
        {
            _environment.Dispose();
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// Starts this node's shard region of Paxos proposers (consistent namespaces): one entity per
    /// partition, placed on the partition's owner by <see cref="Consistent.RingShardAllocationStrategy"/>;
    /// remember-entities off, coordinator state in distributed data.
    /// </summary>
    private static IActorRef StartPaxosProposers(ActorSystem system, string self)
    {
        var sharding = Akka.Cluster.Sharding.ClusterSharding.Get(system);
        var settings = Akka.Cluster.Sharding.ClusterShardingSettings.Create(system)
            .WithRememberEntities(false)
            .WithStateStoreMode(Akka.Cluster.Sharding.StateStoreMode.DData);
        return sharding.Start(RequestRouter.PaxosTypeName,
            entityId => KvProps.Of(() => new Consistent.PaxosProposer(int.Parse(entityId, System.Globalization.CultureInfo.InvariantCulture), self)),
            settings, new Consistent.PaxosMessageExtractor(), new Consistent.RingShardAllocationStrategy(system, self), Consistent.StopProposer.Instance);
    }

    /// <summary>The shard region of the Paxos proposers (null when no namespace is consistent: none is started).</summary>
    public IActorRef? PaxosRegion { get; }

    /// <summary>Completes when the actor system has terminated and the storage (engines, commit log) is closed.</summary>
    public Task Stopped { get; }

    /// <summary>After <see cref="Stopped"/>: what went wrong closing the shared commit log, or null.</summary>
    public Exception? StorageCloseError => _environment.CommitLog?.CloseError;

    /// <summary>Starts the store on <paramref name="system"/> (which must have remoting and the cluster configured).</summary>
    public static KvNode Start(ActorSystem system, KvNodeOptions options) => new(system, options.Validate(), null);

    /// <summary>Starts the store with the access control the node's front ends also use (<paramref name="access"/>, built from options.Security).</summary>
    public static KvNode Start(ActorSystem system, KvNodeOptions options, Security.KvAccessControl access) => new(system, options.Validate(), access);

    /// <summary>Users, grants, logins: what every request to this node's router, admin and user actors is checked against.</summary>
    public Security.KvAccessControl Access { get; }

    /// <summary>The user store (/user/kv-users): logins and user administration.</summary>
    public IActorRef Users { get; }

    public KvNodeOptions Options { get; }

    /// <summary>This node's name in the ring (its cluster address).</summary>
    public string Self { get; }

    public IActorRef Router { get; }

    public IActorRef RingManager { get; }

    public IActorRef Vnodes { get; }

    /// <summary>The hint store (/user/kv-hints, under its backoff supervisor).</summary>
    public IActorRef Hints { get; }

    /// <summary>What this node's hint store holds, per target node.</summary>
    public Task<HintStatus> GetHintStatusAsync() => Hints.Ask<HintStatus>(GetHintStatus.Instance, TimeSpan.FromSeconds(5));

    /// <summary>The administration endpoint (/user/kv-admin): status, transfers, leave, down.</summary>
    public IActorRef Admin { get; }

    public KvStats Stats { get; } = new();

    private TimeSpan AskTimeout(string ns, RequestOptions? options) =>
        (options?.Timeout ?? Options.PropsOf(ns).Timeout) + TimeSpan.FromSeconds(5);

    public Task<object> PutAsync(string ns, string key, byte[] value, VersionVector? context = null, RequestOptions? options = null, string contentType = "application/octet-stream") =>
        Router.Ask<object>(new KvPut(Encoding.UTF8.GetBytes(ns), Encoding.UTF8.GetBytes(key), new Sibling(value, contentType, 0, false), context ?? VersionVector.Empty, options ?? RequestOptions.None), AskTimeout(ns, options));

    public Task<object> GetAsync(string ns, string key, RequestOptions? options = null) =>
        Router.Ask<object>(new KvGet(Encoding.UTF8.GetBytes(ns), Encoding.UTF8.GetBytes(key), options ?? RequestOptions.None), AskTimeout(ns, options));

    public Task<object> DeleteAsync(string ns, string key, VersionVector? context = null, RequestOptions? options = null) =>
        Router.Ask<object>(new KvDelete(Encoding.UTF8.GetBytes(ns), Encoding.UTF8.GetBytes(key), context ?? VersionVector.Empty, options ?? RequestOptions.None), AskTimeout(ns, options));

    /// <summary>The ring this node holds (null before the first claim).</summary>
    public async Task<Ring.Ring?> GetRingAsync() => (await RingManager.Ask<CurrentRing>(GetRing.Instance, TimeSpan.FromSeconds(5)).ConfigureAwait(false)).Ring;

    /// <summary>
    /// Whether this node coordinates requests yet: it is an Up member and holds the cluster's ring
    /// (see <see cref="ServingChanged"/>). Until then gets, puts and deletes sent to it fail Unavailable.
    /// </summary>
    public async Task<bool> IsServingAsync() => (await RingManager.Ask<ServingChanged>(GetServing.Instance, TimeSpan.FromSeconds(5)).ConfigureAwait(false)).Serving;

    /// <summary>This node's vnodes and the transfers it is sending (per partition: keys, bytes, state).</summary>
    public Task<HandoffStatus> GetHandoffStatusAsync() => Vnodes.Ask<HandoffStatus>(GetHandoffStatus.Instance, TimeSpan.FromSeconds(5));

    /// <summary>
    /// Takes this node out of the ring: its partitions are handed off to the remaining nodes
    /// (reads and writes keep working), and when it owns nothing any more and every vnode here
    /// has handed its last writes over, it leaves the cluster.
    /// </summary>
    public async Task LeaveAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        await HandOffAsync(timeout, cancellationToken).ConfigureAwait(false);
        ClusterExt.Get(_system).Leave(ClusterExt.Get(_system).SelfAddress);
    }

    /// <summary>
    /// Hands off every partition of this node to the remaining nodes and returns when it owns
    /// nothing and every vnode here has swept its last writes over (the node stays a member).
    /// </summary>
    public async Task HandOffAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var ring = await GetRingAsync().ConfigureAwait(false);
            if (ring is not null && !ring.Owners.Contains(Self) && !ring.Pending.Contains(Self))
            {
                // Owned by others now; wait until every vnode here has swept its last writes over.
                var status = await GetHandoffStatusAsync().ConfigureAwait(false);
                if (status.Vnodes.All(status.Retired.Contains))
                    return;
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Self} still owns partitions after {timeout.TotalSeconds:0} s: {ring}");
            RingManager.Tell(new LeaveRing(Self), ActorRefs.NoSender);
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }
}
