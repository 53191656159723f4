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
            foreach (string a in new[] { "--data-dir", Path.Combine(dir, "node" + i.ToString(CultureInfo.InvariantCulture)), "--port", ports[i].ToString(CultureInfo.InvariantCulture) })
                psi.ArgumentList.Add(a);
            foreach (int p in ports)
            {
                psi.ArgumentList.Add("--seed");
                psi.ArgumentList.Add("kv://kv@127.0.0.1:" + p.ToString(CultureInfo.InvariantCulture));
            }
            foreach (string a in extra)
                psi.ArgumentList.Add(a);
            var process = Process.Start(psi)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                    Console.Error.WriteLine($"{label}: {e.Data}");
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            cluster._processes.Add(process);
        }
        try
        {
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

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
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
