using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Kv.Client;

namespace Kv.Cli;

/// <summary>
/// `kv dev start --nodes N` / `kv dev stop`: a local cluster of separate Kv.Node processes from
/// hocon/node1.conf..node3.conf (nodes beyond 3: dev-cluster.conf on ports 2554...), data and logs
/// under --dir (default ./dev). Start waits until all N are Up and the ring has settled; stop sends
/// SIGTERM to the nodes one by one, last first, so each hands off to the ones still running.
/// </summary>
public static partial class DevCommands
{
    /// <summary>`kv dev start [--nodes 3] [--dir dev] [--hocon DIR] [--timeout 120s]`.</summary>
    public static Task<int> StartAsync(int n, string? dirOption, string? hocon, TimeSpan? timeout, TextWriter stdout, TextWriter stderr)
    {
        if (n is < 1 or > 9)
            throw new CliException("--nodes must be 1..9");
        return StartNodesAsync(n, Path.GetFullPath(dirOption ?? "dev"), FindHocon(hocon), timeout ?? TimeSpan.FromSeconds(120), stdout, stderr);
    }

    /// <summary>`kv dev stop [--dir dev] [--kill]`.</summary>
    public static Task<int> StopAsync(string? dirOption, bool kill, TextWriter stdout) => StopNodesAsync(Path.GetFullPath(dirOption ?? "dev"), kill, stdout);

    /// <summary>`kv dev certs`: a development CA and node/client certificates (<see cref="DevCertificates"/>).</summary>
    public static int Certs(string? dirOption, long nodes, string password, long days, bool force, TextWriter stdout)
    {
        string dir = Path.GetFullPath(dirOption ?? Path.Combine("dev", "certs"));
        if (nodes is < 1 or > 99)
            throw new CliException("--nodes must be 1..99");
        if (days is < 1 or > 3650)
            throw new CliException("--days must be 1..3650");
        if (password.Length == 0)
            throw new CliException("--password must not be empty");
        if (!force)
        {
            var existing = DevCertificates.FileNames((int)nodes).Where(n => File.Exists(Path.Combine(dir, n))).ToList();
            if (existing.Count > 0)
                throw new CliException($"{dir} already has {string.Join(", ", existing)}; pass --force to replace them (a new CA: certificates from the old one stop chaining)");
        }
        foreach (string path in DevCertificates.WriteAll(dir, (int)nodes, password, (int)days, force))
            stdout.WriteLine($"wrote {path}");
        stdout.WriteLine($"password of the .pfx files: {password}; trust ca.pem (see {Path.Combine(dir, "README.txt")})");
        return ExitCodes.Ok;
    }

    private static string FindHocon(string? given)
    {
        if (given is not null)
            return Directory.Exists(given) ? Path.GetFullPath(given) : throw new CliException($"--hocon: no directory {given}");
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "hocon");
                if (File.Exists(Path.Combine(candidate, "node1.conf")))
                    return candidate;
            }
        }
        throw new CliException("cannot find the hocon/ directory with node1.conf (run from the repository, or pass --hocon DIR)");
    }

    public static int Port(int node) => 2550 + node;

    private static async Task<int> StartNodesAsync(int n, string dir, string hocon, TimeSpan timeout, TextWriter stdout, TextWriter stderr)
    {
        string nodeDll = Path.Combine(AppContext.BaseDirectory, "Kv.Node.dll");
        if (!File.Exists(nodeDll))
            throw new CliException($"Kv.Node.dll is not next to kv ({AppContext.BaseDirectory}); build the solution");
        for (int i = 1; i <= n; i++)
        {
            string nodeDir = Path.Combine(dir, "node" + i.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(nodeDir);
            string pidFile = Path.Combine(nodeDir, "pid");
            if (ReadPid(pidFile) is int running && Alive(running))
            {
                stdout.WriteLine($"node{i} is already running (pid {running})");
                continue;
            }
            string config = i <= 3 ? Path.Combine(hocon, $"node{i}.conf") : Path.Combine(hocon, "dev-cluster.conf");
            string log = Path.Combine(nodeDir, "node.log");
            var psi = new ProcessStartInfo("/bin/sh")
            {
                ArgumentList =
                {
                    "-c",
                    "exec \"$0\" \"$@\" >>\"$KV_DEV_LOG\" 2>&1 </dev/null",
                    "dotnet", nodeDll, "--config", config, "--data-dir", Path.Combine(nodeDir, "data"), "--port", Port(i).ToString(CultureInfo.InvariantCulture),
                },
                UseShellExecute = false,
            };
            psi.Environment["KV_DEV_LOG"] = log;
            Kv.Node.NodeEnvironment.Apply(psi);
            using var process = Process.Start(psi) ?? throw new CliException("could not start dotnet");
            await File.WriteAllTextAsync(pidFile, process.Id.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            stdout.WriteLine($"node{i}: pid {process.Id}, akka.tcp://kv@127.0.0.1:{Port(i)}, log {log}");
        }
        var contacts = Enumerable.Range(1, n).Select(i => $"127.0.0.1:{Port(i)}").ToList();
        var deadline = DateTime.UtcNow + timeout;
        KvClient? client = null;
        try
        {
            string last = "";
            while (true)
            {
                if (DateTime.UtcNow > deadline)
                {
                    stderr.WriteLine($"the cluster did not settle within {timeout.TotalSeconds:0} s ({last}); see the node logs under {dir}");
                    return ExitCodes.Unavailable;
                }
                try
                {
                    client ??= await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = contacts, ConnectTimeout = TimeSpan.FromSeconds(3) }).ConfigureAwait(false);
                    var status = await client.GetClusterStatusAsync().ConfigureAwait(false);
                    int up = status.Members.Count(m => m.Status == "Up" && m.Reachable);
                    var ring = status.Ring;
                    string now = ring is null
                        ? $"{up}/{n} members up, no ring yet"
                        : $"{up}/{n} members up, ring v{ring.Version} with {ring.Members.Count} nodes, {ring.Transfers.Count()} transfers pending";
                    if (now != last)
                        stdout.WriteLine("waiting: " + now);
                    last = now;
                    if (up >= n && ring is not null && ring.Members.Count >= n && ring.Settled && status.Convergence)
                    {
                        stdout.WriteLine($"cluster ready: {n} nodes, ring v{ring.Version} settled; try: kv put default hello world");
                        return ExitCodes.Ok;
                    }
                }
                catch (KvException e)
                {
                    last = e.Message;
                }
                await Task.Delay(500).ConfigureAwait(false);
            }
        }
        finally
        {
            if (client is not null)
                await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<int> StopNodesAsync(string dir, bool kill, TextWriter stdout)
    {
        if (!Directory.Exists(dir))
        {
            stdout.WriteLine($"nothing to stop: no {dir}");
            return ExitCodes.Ok;
        }
        var nodes = Directory.GetDirectories(dir, "node*").OrderByDescending(d => d, StringComparer.Ordinal).ToList();
        foreach (string nodeDir in nodes)
        {
            string pidFile = Path.Combine(nodeDir, "pid");
            if (ReadPid(pidFile) is not int pid || !Alive(pid))
            {
                File.Delete(pidFile);
                continue;
            }
            string name = Path.GetFileName(nodeDir);
            stdout.WriteLine(kill ? $"{name}: kill -9 {pid}" : $"{name}: SIGTERM {pid} (hands off its partitions, then leaves)");
            _ = Kill(pid, kill ? 9 : 15);
            var started = DateTime.UtcNow;
            var report = started.AddSeconds(10);
            while (Alive(pid))
            {
                await Task.Delay(200).ConfigureAwait(false);
                if (DateTime.UtcNow >= report)
                {
                    stdout.WriteLine($"{name}: still stopping ({(DateTime.UtcNow - started).TotalSeconds:0} s)");
                    report = report.AddSeconds(10);
                }
            }
            File.Delete(pidFile);
            stdout.WriteLine($"{name}: stopped");
        }
        return ExitCodes.Ok;
    }

    private static int? ReadPid(string file) =>
        File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;

    // A pid is ours while /proc/PID/cmdline names Kv.Node.dll (pids are reused).
    private static bool Alive(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains("Kv.Node.dll", StringComparison.Ordinal)
                && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
