using Akka;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Client;
using Kv.Actors;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Node;

/// <summary>
/// Runs the store on the node's actor system (started by Akka.Hosting before this service): takes
/// the data directory's LOCK, starts the store, registers its router and admin actors with the
/// cluster client receptionist (so clients outside the cluster find them) and joins (the seed
/// nodes, or itself when there are none). Stopping (SIGTERM, Ctrl-C) goes through Akka's
/// coordinated shutdown: in its first phase, when other members remain, the node hands off its
/// partitions (reads and writes keep working meanwhile); then it leaves the cluster, the actor
/// system stops (vnodes close their engines), the storage environment is flushed and disposed and
/// the lock released. When the node is removed from the cluster (it left, or was downed) the
/// application stops.
/// </summary>
public sealed class NodeService(NodeSettings settings, ActorSystem system, ILoggerFactory loggers, IHostApplicationLifetime lifetime, Kv.Actors.Security.KvAccessControl access) : IHostedService
{
    private readonly ILogger _log = loggers.CreateLogger("Kv.Node");
    private IDisposable? _lock;
    private KvNode? _node;

    public KvNode? Node => _node;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        string data = Path.GetFullPath(settings.Store.DataDirectory);
        Directory.CreateDirectory(data);
        _lock = AcquireLock(data);
        try
        {
            _node = KvNode.Start(system, settings.Store with { DataDirectory = data }, access);
            var receptionist = ClusterClientReceptionist.Get(system);
            receptionist.RegisterService(_node.Router);
            receptionist.RegisterService(_node.Admin);
            receptionist.RegisterService(_node.Users);
            if (settings.Store.Security.Authentication)
                _log.LogInformation("authentication on (anonymous access {Anonymous})", access.AnonymousAkka ? "from loopback" : "off");
            var cluster = ClusterExt.Get(system);
            if (settings.SeedNodes.Count == 0)
                cluster.Join(cluster.SelfAddress);
            cluster.RegisterOnMemberUp(() => _log.LogInformation("{Node} is Up", _node.Self));
            cluster.RegisterOnMemberRemoved(() =>
            {
                _log.LogInformation("{Node} was removed from the cluster; stopping", _node.Self);
                lifetime.StopApplication();
            });
            var shutdown = CoordinatedShutdown.Get(system);
            shutdown.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "kv-handoff", HandOffAsync);
            _ = system.WhenTerminated.ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
            _ = _node.Stopped.ContinueWith(_ => _lock.Dispose(), TaskScheduler.Default);
            _log.LogInformation("node {Node} started (config {Config}, data {Data}, seeds [{Seeds}])",
                _node.Self, settings.ConfigFile ?? "built-in defaults", data, string.Join(", ", settings.SeedNodes));
        }
        catch
        {
            _lock.Dispose();
            throw;
        }
        return Task.CompletedTask;
    }

    private static IDisposable AcquireLock(string data)
    {
        try
        {
            return Kv.Storage.IO.PhysicalFileSystem.Instance.Lock(Path.Combine(data, "LOCK"));
        }
        catch (Kv.Storage.StorageLockedException e)
        {
            throw new NodeStartupException($"the data directory {data} is in use by another node (its LOCK file is held): {e.Message}");
        }
    }

    /// <summary>Coordinated shutdown's first phase: hand off this node's partitions when other members remain.</summary>
    private async Task<Done> HandOffAsync()
    {
        if (_node is null)
            return Done.Instance;
        var cluster = ClusterExt.Get(system);
        var state = cluster.State;
        // A node downed (or removed) has shut its cluster down and its last state still lists the
        // others as Up: there is no one to hand off to (they removed it), and trying only waited for leave-timeout.
        bool member = !cluster.IsTerminated
            && cluster.SelfMember is { Status: MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining or MemberStatus.Leaving };
        bool others = state.Members.Any(m => !m.Address.Equals(cluster.SelfAddress) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp
            && !state.Unreachable.Contains(m));
        if (settings.LeaveOnShutdown && member && others)
        {
            _log.LogInformation("{Node} is leaving: handing off its partitions to the other members", _node.Self);
            try
            {
                await _node.HandOffAsync(settings.Store.LeaveTimeout).ConfigureAwait(false);
                _log.LogInformation("{Node} handed off everything", _node.Self);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                _log.LogWarning("{Node} did not finish its handoff ({Reason}); stopping anyway, its replicas keep the data", _node.Self, e.Message);
            }
        }
        return Done.Instance;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_node is null)
            return;
        // Akka.Hosting runs coordinated shutdown when the host stops (after this service, which
        // started after it); here: wait for it, so the storage is closed before the process exits.
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        await system.WhenTerminated.ConfigureAwait(false);
        await _node.Stopped.ConfigureAwait(false); // storage closed: the commit log emptied on a clean stop
        if (_node.StorageCloseError is Exception closeError)
            _log.LogWarning("{Node}: closing the commit log failed ({Reason}); its segments are kept and replayed at the next start", _node.Self, closeError.Message);
        _log.LogInformation("{Node} stopped", _node.Self);
    }
}

/// <summary>The node could not start (data directory in use, port taken, ...).</summary>
public sealed class NodeStartupException(string message) : Exception(message);
