using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Kv.Chaos;

/// <summary>What the campaign has done to a node.</summary>
public enum NodeState
{
    /// <summary>Never started (churn's spare) or left the cluster.</summary>
    Stopped,
    Running,
    Killed,
    Paused,
    Leaving,
}

/// <summary>
/// One Kv.Node process of the cluster under test: its port, config file, data directory and log
/// (appended to across restarts). Signals go straight to the dotnet process.
/// </summary>
public sealed partial class NodeProcess(int index, int port, string runDirectory, string nodeDll)
{
    private Process? _process;
    private int _generation;

    public int Index { get; } = index;

    public int Port { get; } = port;

    public string Name => "node" + Index.ToString(CultureInfo.InvariantCulture);

    /// <summary>host:port, as the client and the `kv` command name nodes.</summary>
    public string Endpoint => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The node's cluster address (its name in the ring). Campaign nodes run with kv.chaos.enabled,
    /// so Akka.Remote's throttler adapter names their transport akka.trttl.tcp (<see cref="Protocol"/>).
    /// </summary>
    public string Address => Protocol + "://kv@" + Endpoint;

    /// <summary>akka.trttl.tcp for a node with kv.chaos.enabled (Akka.Remote's throttler adapter), else akka.tcp.</summary>
    public string Protocol { get; init; } = "akka.trttl.tcp";

    public string ConfigFile => Path.Combine(runDirectory, Name + ".conf");

    public string LogFile => Path.Combine(runDirectory, Name + ".log");

    /// <summary>The current data directory (a fresh one after the node left the cluster).</summary>
    public string DataDirectory => Path.Combine(runDirectory, Name, _generation == 0 ? "data" : "data-" + _generation.ToString(CultureInfo.InvariantCulture));

    public NodeState State { get; set; } = NodeState.Stopped;

    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    public bool HasExited => _process is null || _process.HasExited;

    /// <summary>Writes the node's HOCON file: address, seeds, data directory, chaos switch, fast failure detection, and <paramref name="extraConfig"/> (null: none) in the kv block.</summary>
    public void WriteConfig(IEnumerable<string> seeds, int ringSize, TimeSpan tombstoneGrace, bool chaosEnabled, string? extraConfig = null)
    {
        string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        var text = $$"""
            # Written by Kv.Chaos for {{Name}} of this run.
            kv {
              data-directory = {{Quote(DataDirectory)}}
              ring-size = {{ringSize}}
              tombstone-grace = {{(long)tombstoneGrace.TotalMilliseconds}}ms
              # Every node runs on this machine (one clock): a small TTL skew tolerance keeps values served close to their expiry.
              ttl.clock-skew-tolerance = 100ms
              # The campaign kills nodes; it never needs the leave on SIGTERM.
              leave-on-shutdown = off
              handoff.retry-delay = 500ms
              chaos.enabled = {{(chaosEnabled ? "on" : "off")}}
              # The data type workloads' namespaces (counter, set-crdt).
              namespaces.counters.datatype = counter
              namespaces.sets.datatype = set
              {{extraConfig ?? ""}}
              remote {
                hostname = "127.0.0.1"
                port = {{Port}}
              }
              # No HTTP or RESP front end: their default ports are fixed and the campaign needs neither.
              http.port = 0
              resp.port = 0
              cluster {
                seed-nodes = [{{string.Join(", ", seeds.Select(Quote))}}]
                seed-node-timeout = 3s
                # A restarted first seed waits for the others' links to its old incarnation to end (20 s through the throttler).
                first-seed-rejoin-timeout = 45s
                retry-unsuccessful-join-after = 2s
                # Kills and pauses are noticed within a few seconds ...
                failure-detector.acceptable-heartbeat-pause = 2s
                # ... but no side is downed during a fault (faults last well under this).
                split-brain-resolver.stable-after = 30s
              }
            }
            """;
        File.WriteAllText(ConfigFile, text.ReplaceLineEndings("\n") + "\n");
    }

    /// <summary>Starts the node (on its current data directory); output goes to its log file.</summary>
    public void Start()
    {
        Directory.CreateDirectory(DataDirectory);
        File.AppendAllText(LogFile, $"===== Kv.Chaos: starting {Name} at {DateTime.UtcNow:O} (data {DataDirectory})\n");
        var psi = new ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", "exec \"$0\" \"$@\" >>\"$KV_CHAOS_LOG\" 2>&1 </dev/null", "dotnet", nodeDll, "--config", ConfigFile },
            UseShellExecute = false,
        };
        psi.Environment["KV_CHAOS_LOG"] = LogFile;
        Kv.Node.NodeEnvironment.Apply(psi);
        _process?.Dispose();
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        State = NodeState.Running;
    }

    /// <summary>The next start uses a fresh, empty data directory (a new node after this one left).</summary>
    public void FreshData() => _generation++;

    /// <summary>SIGKILL, and wait until the process is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            Signal(p.Id, SigCont); // a stopped process dies on SIGKILL too, but be sure it is not left stopped
            p.Kill();
            await p.WaitForExitAsync().ConfigureAwait(false);
        }
        State = NodeState.Killed;
    }

    /// <summary>SIGSTOP: the process is frozen (a long GC, a stuck VM).</summary>
    public void Pause()
    {
        if (_process is { HasExited: false } p)
            Signal(p.Id, SigStop);
        State = NodeState.Paused;
    }

    /// <summary>SIGCONT.</summary>
    public void Resume()
    {
        if (_process is { HasExited: false } p)
            Signal(p.Id, SigCont);
        State = NodeState.Running;
    }

    /// <summary>Waits for the process to exit by itself (after leaving the cluster).</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        if (_process is null)
            return true;
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Kills the process if it runs (any state), synchronously: also used from exit handlers.</summary>
    public void KillNow()
    {
        try
        {
            if (_process is { HasExited: false } p)
            {
                Signal(p.Id, SigCont);
                p.Kill();
                p.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    private const int SigCont = 18;
    private const int SigStop = 19;

    private static void Signal(int pid, int signal) => _ = Kill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
