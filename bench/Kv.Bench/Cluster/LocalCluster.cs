using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kv.Client;

namespace Kv.Bench.Cluster;

/// <summary>A throwaway cluster of Kv.Node processes (Kv.Node.dll from this output directory), data in a temp directory.</summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<Process> _processes = [];
    private readonly string _dir;

    /// <summary>Set when the cluster is being removed: what the nodes log then is the shutdown's noise.</summary>
    private volatile bool _stopping;

    private LocalCluster(string dir) => _dir = dir;

    public IReadOnlyList<string> Contacts { get; private set; } = [];

    /// <summary>CPU time used so far by each node process.</summary>
    public IReadOnlyList<TimeSpan> NodeCpu()
    {
        var times = new List<TimeSpan>();
        foreach (var p in _processes)
        {
            p.Refresh();
            times.Add(p.HasExited ? TimeSpan.Zero : p.TotalProcessorTime);
        }
        return times;
    }

    public static async Task<LocalCluster> StartAsync(int nodes, IEnumerable<string> extraArgs)
    {
        string dir = Path.Combine(Path.GetTempPath(), "kv-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var cluster = new LocalCluster(dir);
        var ports = new List<int>();
        while (ports.Count < nodes)
        {
            int port = FreePort(); // the OS may hand a just-released port out twice: keep them distinct
            if (!ports.Contains(port))
                ports.Add(port);
        }
        cluster.Contacts = ports.Select(p => "127.0.0.1:" + p.ToString(CultureInfo.InvariantCulture)).ToList();
        string dll = Path.Combine(AppContext.BaseDirectory, "Kv.Node.dll");
        var extra = extraArgs.ToList();
        for (int i = 0; i < nodes; i++)
        {
            string label = "node" + i.ToString(CultureInfo.InvariantCulture); // not i itself: the handler runs after the loop has moved on
            var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            Kv.Node.NodeEnvironment.Apply(psi);
            psi.ArgumentList.Add(dll);
            foreach (string a in new[] { "--data-dir", Path.Combine(dir, "node" + i.ToString(CultureInfo.InvariantCulture)), "--port", ports[i].ToString(CultureInfo.InvariantCulture), "--kv.http.port=0", "--kv.resp.port=0" })
                psi.ArgumentList.Add(a);
            foreach (int p in ports)
            {
                psi.ArgumentList.Add("--seed");
                psi.ArgumentList.Add("akka.tcp://kv@127.0.0.1:" + p.ToString(CultureInfo.InvariantCulture));
            }
            foreach (string a in extra)
                psi.ArgumentList.Add(a);
            var process = Process.Start(psi)!;
            // The nodes log at the level the caller set (warning for the benchmark): pass it all on.
            DataReceivedEventHandler forward = (_, e) =>
            {
                if (e.Data is not null && !cluster._stopping)
                    Console.Error.WriteLine($"{label}: {e.Data}");
            };
            process.OutputDataReceived += forward;
            process.ErrorDataReceived += forward;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            cluster._processes.Add(process);
        }
        try
        {
            // Connect only once every node listens: Akka.Remote gates an address that refused a
            // connection for 5 s, which would only delay the start.
            foreach (int port in ports)
                await WaitListeningAsync(port, cluster._processes, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            await using var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = cluster.Contacts }).ConfigureAwait(false);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (true)
            {
                var status = await client.GetClusterStatusAsync().ConfigureAwait(false);
                if (status.Ring is { Settled: true } ring && ring.Members.Count == nodes && status.Convergence)
                    break;
                if (DateTime.UtcNow > deadline)
                    throw new InvalidOperationException("the local cluster did not settle within 90 s");
                await Task.Delay(250).ConfigureAwait(false);
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false); // leave no node processes behind
            throw;
        }
    }

    private static async Task WaitListeningAsync(int port, List<Process> processes, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                return;
            }
            catch (SocketException)
            {
                if (processes.FirstOrDefault(p => p.HasExited) is { } gone)
                    throw new InvalidOperationException($"node{processes.IndexOf(gone)} exited with code {gone.ExitCode} during start-up (see its lines above)");
                if (DateTime.UtcNow > deadline)
                    throw new InvalidOperationException($"no node listened on 127.0.0.1:{port} within {timeout.TotalSeconds:0} s");
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Stop passing on the nodes' log: what follows is the shutdown's (clients leaving, nodes killed).</summary>
    public void Quiet() => _stopping = true;

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        foreach (var p in _processes)
        {
            try
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
            p.Dispose();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"could not remove {_dir}: {e.Message}");
        }
    }
}
