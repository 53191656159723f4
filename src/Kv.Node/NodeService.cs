using Kv.Actors;
using Kv.Cluster.Actor;
using Kv.Cluster.Cluster;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ClusterExt = Kv.Cluster.Cluster.Cluster;

namespace Kv.Node;

/// <summary>
/// Runs one node inside the .NET generic host: takes the data directory's LOCK, starts the actor
/// system with remoting and the cluster, starts the store and joins (the seed nodes, or itself when
/// there are none). On stop (SIGTERM, Ctrl-C): when other members remain it hands off its
/// partitions and leaves the cluster, then stops the actor system (vnodes close their engines,
/// the shared storage environment is flushed and disposed) and releases the lock. When the node is
/// removed from the cluster (it left, or was downed) the application stops.
/// </summary>
public sealed class NodeService(NodeSettings settings, ILoggerFactory loggers, IHostApplicationLifetime lifetime) : IHostedService
{
    private readonly ILogger _log = loggers.CreateLogger("Kv.Node");
    private IDisposable? _lock;
    private ActorSystem? _system;
    private KvNode? _node;

    public KvNode? Node => _node;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        string data = Path.GetFullPath(settings.Store.DataDirectory);
        Directory.CreateDirectory(data);
        _lock = AcquireLock(data);
        try
        {
            _system = ActorSystem.Create(settings.SystemName, settings.System with { LoggerFactory = loggers });
            _node = KvNode.Start(_system, settings.Store with { DataDirectory = data });
            var cluster = ClusterExt.Get(_system);
            if (settings.System.Cluster!.SeedNodes.Count == 0)
                cluster.Join(cluster.SelfAddress);
            cluster.RegisterOnMemberUp(() => _log.LogInformation("{Node} is Up", _node.Self));
            cluster.RegisterOnMemberRemoved(() =>
            {
                _log.LogInformation("{Node} was removed from the cluster; stopping", _node.Self);
                lifetime.StopApplication();
            });
            _log.LogInformation("node {Node} started (config {Config}, data {Data}, seeds [{Seeds}])",
                _node.Self, settings.ConfigFile ?? "built-in defaults", data, string.Join(", ", settings.System.Cluster.SeedNodes));
        }
        catch
        {
            _lock.Dispose();
            _system?.Terminate();
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

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_system is null || _node is null)
            return;
        try
        {
            var cluster = ClusterExt.Get(_system);
            var state = cluster.State;
            bool member = cluster.SelfMember is { Status: MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining or MemberStatus.Leaving };
            bool others = state.Members.Any(m => !m.Address.Equals(cluster.SelfAddress) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp
                && !state.Unreachable.Contains(m));
            if (!_system.WhenTerminated.IsCompleted && settings.LeaveOnShutdown && member && others)
            {
                _log.LogInformation("{Node} is leaving: handing off its partitions to the other members", _node.Self);
                try
                {
                    await _node.LeaveAsync(settings.Store.LeaveTimeout, cancellationToken).ConfigureAwait(false);
                    _log.LogInformation("{Node} handed off everything", _node.Self);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    _log.LogWarning("{Node} did not finish its handoff ({Reason}); stopping anyway, its replicas keep the data", _node.Self, e.Message);
                }
            }
            await CoordinatedShutdown.Get(_system).Run(ShutdownReason.ProcessExit).ConfigureAwait(false);
            await _system.WhenTerminated.ConfigureAwait(false);
            await _node.Stopped.ConfigureAwait(false); // storage closed: the commit log emptied on a clean stop
            if (_node.StorageCloseError is Exception closeError)
                _log.LogWarning("{Node}: closing the commit log failed ({Reason}); its segments are kept and replayed at the next start", _node.Self, closeError.Message);
            _log.LogInformation("{Node} stopped", _node.Self);
        }
        finally
        {
            _lock?.Dispose();
        }
    }
}

/// <summary>The node could not start (data directory in use, port taken, ...).</summary>
public sealed class NodeStartupException(string message) : Exception(message);
