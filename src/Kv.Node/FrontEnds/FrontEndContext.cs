using Akka.Actor;
using Kv.Actors;
using Kv.Actors.Security;
using Kv.Client;
using Microsoft.Extensions.Logging;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Node.FrontEnds;

/// <summary>
/// What the node's front ends (HTTP, RESP) share: the store on this node, an in-process client on
/// the node's own actor system (requests take the client's routing, errors and timeouts), and the
/// access control every request is checked against.
/// </summary>
public sealed class FrontEndContext(NodeSettings settings, KvNode node, ActorSystem system, IAccessControl access, ILoggerFactory loggers)
{
    private readonly ILogger _log = loggers.CreateLogger("Kv.FrontEnds");
    private readonly SemaphoreSlim _connect = new(1, 1);
    private KvClient? _client;

    public NodeSettings Settings { get; } = settings;

    public KvNode Node { get; } = node;

    public ActorSystem System { get; } = system;

    public IAccessControl Access { get; } = access;

    /// <summary>The in-process client, connected on first use (it waits for the node's ring; throws <see cref="KvUnavailableException"/> until there is one).</summary>
    public async ValueTask<KvClient> ClientAsync()
    {
        if (Volatile.Read(ref _client) is { } ready)
            return ready;
        await _connect.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_client is not null)
                return _client;
            var self = ClusterExt.Get(System).SelfAddress;
            var options = new KvClientOptions
            {
                ContactPoints = [self.ToString()],
                SystemName = self.System,
                Hostname = Settings.Hostname,
                ConnectTimeout = TimeSpan.FromSeconds(5),
            };
            _client = await KvClient.AttachAsync(System, options).ConfigureAwait(false);
            _log.LogDebug("front-end client attached to {Node}", self);
            return _client;
        }
        finally
        {
            _connect.Release();
        }
    }

    /// <summary>Stops the in-process client (the node is stopping).</summary>
    public async ValueTask CloseAsync()
    {
        if (_client is { } c)
            await c.DisposeAsync().ConfigureAwait(false);
    }
}
