using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kv.Node.Tests;

/// <summary>Runs the built programs (Kv.Node.dll, kv.dll from this test's output) as real processes.</summary>
public static class Processes
{
    public static string Dll(string name) => Path.Combine(AppContext.BaseDirectory, name);

    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "hocon", "node1.conf")))
                return d.FullName;
        }
        throw new InvalidOperationException("repository root (with hocon/) not found");
    }

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>A port free now and not handed out before in this process (the kernel may give a port just released again).</summary>
    /// <summary>
    /// A node.conf for a fast loopback test cluster: 16 partitions, a quick ring tick and gossip,
    /// <paramref name="seeds"/> (quoted addresses, comma-separated), and <paramref name="extra"/>
    /// (more hocon inside kv { }).
    /// </summary>
    public static string LoopbackNodeConfig(string dir, int port, string seeds, string extra = "") => $$"""
        kv {
          data-directory = "{{dir.Replace("\\", "/", StringComparison.Ordinal)}}/data"
          ring-size = 16
          ring-tick = 300ms
          leave-on-shutdown = off
          remote { hostname = "127.0.0.1", port = {{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}} }
          cluster {
            seed-nodes = [{{seeds}}]
            seed-node-timeout = 1s
            retry-unsuccessful-join-after = 1s
            gossip-interval = 300ms
            leader-actions-interval = 300ms
            heartbeat-interval = 300ms
          }
        {{extra}}
        }
        """;

    public static int FreePort()
    {
        lock (HandedOut)
        {
            while (true)
            {
                using var l = new TcpListener(IPAddress.Loopback, 0);
                l.Start();
                int port = ((IPEndPoint)l.LocalEndpoint).Port;
                if (HandedOut.Add(port))
                    return port;
            }
        }
    }

    /// <summary>A started process whose output is collected.</summary>
    public sealed class Running : IDisposable
    {
        private readonly StringBuilder _output = new();

        public Running(string dll, string workingDirectory, params string[] args)
        {
            // Through env, which execs dotnet in its place, with SIGINT back to its default: a test
            // runner started in the background (as scripts and CI often start it) has SIGINT ignored,
            // the child would inherit that, and a Ctrl-C stop could not be tested. A terminal's
            // Ctrl-C reaches a foreground node whose SIGINT is not ignored, which is what this gives.
            var psi = new ProcessStartInfo("env")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                WorkingDirectory = workingDirectory,
            };
            psi.ArgumentList.Add("--default-signal=INT");
            psi.ArgumentList.Add("dotnet");
            psi.ArgumentList.Add(dll);
            foreach (string a in args)
                psi.ArgumentList.Add(a);
            // Nodes in tests leave the HTTP and RESP front ends off unless a spec asks for them
            // (their default ports are fixed, and several nodes run at once).
            if (Path.GetFileName(dll) == "Kv.Node.dll")
            {
                if (!args.Any(a => a.Contains("http.port", StringComparison.Ordinal)))
                    psi.ArgumentList.Add("--kv.http.port=0");
                if (!args.Any(a => a.Contains("resp.port", StringComparison.Ordinal)))
                    psi.ArgumentList.Add("--kv.resp.port=0");
            }
            Process = Process.Start(psi)!;
            Process.OutputDataReceived += (_, e) => Append(e.Data);
            Process.ErrorDataReceived += (_, e) => Append(e.Data);
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_output)
                    return _output.ToString();
            }
        }

        private void Append(string? line)
        {
            if (line is null)
                return;
            lock (_output)
                _output.AppendLine(line);
        }

        public async Task WaitForOutput(string text, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!Output.Contains(text, StringComparison.Ordinal))
            {
                if (DateTime.UtcNow > deadline || Process.HasExited)
                    throw new TimeoutException($"'{text}' did not appear (exited: {Process.HasExited}); output:\n{Output}");
                await Task.Delay(100);
            }
        }

        public async Task<int> WaitForExit(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await Process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the process did not exit within {timeout.TotalSeconds:0} s; output:\n{Output}");
            }
            Process.WaitForExit();
            return Process.ExitCode;
        }

        public void Signal(int signal) => _ = Kill(Process.Id, signal);

        public void Dispose()
        {
            if (!Process.HasExited)
                Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}

[CollectionDefinition("processes", DisableParallelization = true)]
public sealed class ProcessCollection;
