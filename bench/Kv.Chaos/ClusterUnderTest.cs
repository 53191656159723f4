using System.Net;
using System.Net.Sockets;
using Kv.Actors.Admin;
using Kv.Client;

namespace Kv.Chaos;

/// <summary>
/// The Kv.Node processes of one campaign: <c>nodes</c> members plus, for churn, spares that join
/// later. Each node has a config file, a data directory and a log under the run directory. Every
/// process is killed on <see cref="DisposeAsync"/> (and at process exit, should the campaign be
/// interrupted).
/// </summary>
public sealed class ClusterUnderTest : IAsyncDisposable
{
    private readonly List<NodeProcess> _all = [];
    private readonly TextWriter _log;
    private readonly EventHandler _onExit;

    public const int RingSize = 16;

    private ClusterUnderTest(TextWriter log)
    {
        _log = log;
        _onExit = (_, _) => KillAll();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    /// <summary>Every node slot (members and spares).</summary>
    public IReadOnlyList<NodeProcess> All => _all;

    /// <summary>Nodes that are (or should be) members: running, killed, paused or leaving.</summary>
    public IEnumerable<NodeProcess> Members => _all.Where(n => n.State is not NodeState.Stopped);

    /// <summary>Nodes not yet started, or gone after leaving.</summary>
    public IEnumerable<NodeProcess> Spares => _all.Where(n => n.State is NodeState.Stopped);

    /// <summary>Contact points for clients: the initial members.</summary>
    public IReadOnlyList<string> Contacts { get; private set; } = [];

    /// <summary>
    /// Writes configs for <paramref name="nodes"/> + <paramref name="spares"/> nodes on free ports and starts the first <paramref name="nodes"/>;
    /// <paramref name="extraConfig"/> (null: none) goes into each node's kv { } block.
    /// </summary>
    public static ClusterUnderTest Start(string runDirectory, string nodeDll, int nodes, int spares, TimeSpan tombstoneGrace, bool chaosEnabled, TextWriter log, string? extraConfig = null)
    {
        if (!File.Exists(nodeDll))
            throw new FileNotFoundException($"Kv.Node.dll not found at {nodeDll} (build src/Kv.Node in the same configuration)", nodeDll);
        Directory.CreateDirectory(runDirectory);
        var cluster = new ClusterUnderTest(log);
        var ports = new List<int>();
        while (ports.Count < nodes + spares)
        {
            int port = FreePort(); // the OS may hand a just-released port out twice: keep them distinct
            if (!ports.Contains(port))
                ports.Add(port);
        }
        for (int i = 0; i < ports.Count; i++)
            cluster._all.Add(new NodeProcess(i + 1, ports[i], runDirectory, nodeDll) { Protocol = chaosEnabled ? "akka.trttl.tcp" : "akka.tcp" });
        var seeds = cluster._all.Take(nodes).Select(n => n.Address).ToList();
        foreach (var node in cluster._all)
            node.WriteConfig(seeds, RingSize, tombstoneGrace, chaosEnabled, extraConfig);
        cluster.Contacts = cluster._all.Take(nodes).Select(n => n.Address).ToList();
        foreach (var node in cluster._all.Take(nodes))
            node.Start();
        log.WriteLine($"started {nodes} nodes: {string.Join(", ", cluster._all.Take(nodes).Select(n => $"{n.Name} {n.Endpoint} pid {n.Pid}"))}");
        return cluster;
    }

    public NodeProcess ByAddress(string address) => _all.First(n => n.Address == address || n.Endpoint == address);

    /// <summary>
    /// Waits until every node that should be a member is Up and reachable in the view of each of
    /// them, no other member is listed, each holds the same settled ring over exactly those nodes,
    /// and gossip has converged; twice in a row, half a second apart.
    /// </summary>
    public async Task WaitSettledAsync(KvClient client, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        int good = 0;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            string? problem = await ProblemAsync(client).ConfigureAwait(false);
            if (problem is null)
            {
                if (++good >= 2)
                {
                    _log.WriteLine("cluster settled");
                    return;
                }
            }
            else
            {
                good = 0;
                if (problem != last)
                    _log.WriteLine("waiting: " + problem);
                last = problem;
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the cluster did not settle within {timeout.TotalSeconds:0} s: {last}");
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits (up to <paramref name="timeout"/>) until <paramref name="node"/> answers and counts
    /// itself an Up member that serves requests, so that a restarted node is back before the next
    /// fault picks its victims.
    /// </summary>
    public static async Task<bool> WaitUpAsync(KvClient client, NodeProcess node, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var status = await client.GetClusterStatusOfAsync(node.Endpoint).ConfigureAwait(false);
                if (status.Serving && status.Members.Any(m => m.Address == node.Address && m.Status == "Up" && m.Reachable))
                    return true;
            }
            catch (Exception e) when (e is KvException or Akka.Actor.AskTimeoutException)
            {
                // not listening yet
            }
            await Task.Delay(500).ConfigureAwait(false);
        }
        return false;
    }

    private async Task<string?> ProblemAsync(KvClient client)
    {
        var expected = Members.Select(n => n.Address).Order(StringComparer.Ordinal).ToList();
        long? version = null;
        foreach (var node in Members)
        {
            ClusterStatus status;
            try
            {
                status = await client.GetClusterStatusOfAsync(node.Endpoint).ConfigureAwait(false);
            }
            catch (Exception e) when (e is KvException or TimeoutException or Akka.Actor.AskTimeoutException)
            {
                return $"{node.Name} does not answer ({e.GetType().Name})";
            }
            var up = status.Members.Where(m => m.Status == "Up" && m.Reachable).Select(m => m.Address).Order(StringComparer.Ordinal).ToList();
            if (!up.SequenceEqual(expected) || status.Members.Count != expected.Count)
                return $"{node.Name} sees members [{string.Join(", ", status.Members.Select(m => $"{m.Address} {m.Status}{(m.Reachable ? "" : " unreachable")}"))}], expected {expected.Count} Up";
            if (!status.Convergence)
                return $"{node.Name}: no gossip convergence yet";
            if (!status.Serving)
                return $"{node.Name}: does not serve requests yet";
            if (status.Ring is not { } ring)
                return $"{node.Name}: no ring yet";
            if (!ring.Settled || !ring.Members.SequenceEqual(expected))
                return $"{node.Name}: {ring}";
            if (version is { } v && v != ring.Version)
                return $"ring versions differ (v{v}, v{ring.Version} at {node.Name})";
            version = ring.Version;
        }
        return null;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private void KillAll()
    {
        foreach (var node in _all)
            node.KillNow();
    }

    public ValueTask DisposeAsync()
    {
        KillAll();
        AppDomain.CurrentDomain.ProcessExit -= _onExit;
        return ValueTask.CompletedTask;
    }
}
