using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Xunit.Abstractions;

namespace Kv.MultiProcess;

/// <summary>
/// The controller of a multi-node spec, run from an xunit test: starts one OS process per role on
/// 127.0.0.1 with free ports, coordinates barriers, fault rules, kills and restarts, gathers every
/// process's log into one timeline, and fails if a role fails, a barrier times out, or the spec
/// overruns its deadline.
/// </summary>
public sealed class MultiNodeTestRunner
{
    private readonly MultiNodeSpec _spec;
    private readonly string _assemblyPath;
    private readonly ITestOutputHelper? _output;
    private readonly Dictionary<string, int> _ports = [];
    private readonly Dictionary<string, RoleState> _roles = [];
    private readonly Channel<(string? Role, string Line, ControlChannel? From)> _events = Channel.CreateUnbounded<(string?, string, ControlChannel?)>();
    private readonly ConcurrentQueue<string> _log = new();
    private readonly Dictionary<string, (HashSet<string> Arrived, DateTime First)> _barriers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _pendingRestarts = [];
    private readonly Dictionary<string, (string Requester, int Left)> _pendingRules = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TcpListener? _listener;
    private string? _failure;
    private int _ruleIds;

    private sealed class RoleState(string name)
    {
        public string Name { get; } = name;
        public Process? Process { get; set; }
        public int Incarnation { get; set; }
        public ControlChannel? Control { get; set; }
        public bool Live { get; set; }
        public bool Killed { get; set; }
        public bool Finished { get; set; }
        public bool Exited { get; set; }
    }

    /// <summary>Environment variable naming the spec run's scratch directory (one sub-directory per role).</summary>
    public const string DataDirectoryVariable = "KV_MULTINODE_DIR";

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("kv-multinode-").FullName;

    private MultiNodeTestRunner(MultiNodeSpec spec, ITestOutputHelper? output)
    {
        _spec = spec;
        _output = output;
        _assemblyPath = spec.GetType().Assembly.Location;
    }

    /// <summary>Runs <typeparamref name="TSpec"/> and throws <see cref="MultiProcessException"/> with the merged log if it fails.</summary>
    public static Task RunAsync<TSpec>(ITestOutputHelper? output = null) where TSpec : MultiNodeSpec, new() =>
        new MultiNodeTestRunner(new TSpec(), output).RunAsync();

    private async Task RunAsync()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        foreach (var role in _spec.Roles)
        {
            // The OS may hand the same just-released port out twice in a row: every role gets its own.
            int port;
            do
            {
                port = MultiProcessSettings.FreePort();
            }
            while (_ports.ContainsValue(port));
            _ports[role] = port;
            _roles[role] = new RoleState(role);
        }
        using var stop = new CancellationTokenSource();
        _ = AcceptAsync(stop.Token);
        foreach (var role in _spec.Roles)
            StartProcess(_roles[role]);
        var deadline = MultiProcessSettings.Dilated(_spec.Timeout);
        using var ticker = new Timer(_ => _events.Writer.TryWrite((null, "tick", null)), null, 500, 500);
        bool started = false;
        try
        {
            await foreach (var (role, line, from) in _events.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                Handle(role, line, from, ref started);
                if (_clock.Elapsed > deadline)
                    _failure ??= $"the spec did not finish within {deadline.TotalSeconds:0} s";
                if (_failure is not null || AllDone())
                    break;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var r in _roles.Values)
            {
                if (r.Process is { HasExited: false } p)
                    p.Kill(entireProcessTree: true);
                r.Process?.WaitForExit(5000);
                r.Control?.Dispose();
            }
            _listener.Stop();
        }
        var timeline = string.Join('\n', _log);
        try
        {
            _output?.WriteLine(timeline);
        }
        catch (InvalidOperationException)
        {
        }
        if (_failure is null)
        {
            try
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
            catch (IOException e)
            {
                _output?.WriteLine($"could not remove {_dataDirectory}: {e.Message}");
            }
        }
        if (_failure is not null)
            throw new MultiProcessException($"multi-node spec {_spec.GetType().Name} failed: {_failure}\n--- merged log ---\n{timeline}");
    }

    private bool AllDone() => _roles.Values.All(r => r.Exited || r.Killed) && _pendingRestarts.Count == 0 && _roles.Values.Any(r => r.Finished);

    private void Log(string line) => _log.Enqueue($"{_clock.Elapsed.TotalSeconds,8:0.000} {line}");

    private void StartProcess(RoleState role)
    {
        role.Incarnation++;
        role.Killed = false;
        role.Exited = false;
        role.Finished = false;
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment[DataDirectoryVariable] = _dataDirectory;
        psi.ArgumentList.Add(_assemblyPath);
        psi.ArgumentList.Add("--multinode");
        psi.ArgumentList.Add(_spec.GetType().FullName!);
        psi.ArgumentList.Add("--role");
        psi.ArgumentList.Add(role.Name);
        psi.ArgumentList.Add("--incarnation");
        psi.ArgumentList.Add(role.Incarnation.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--controller");
        psi.ArgumentList.Add(((IPEndPoint)_listener!.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--ports");
        psi.ArgumentList.Add(string.Join(',', _ports.Select(p => $"{p.Key}={p.Value}")));
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        string tag = $"[{role.Name}#{role.Incarnation}]";
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Log($"{tag} {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Log($"{tag} stderr: {e.Data}"); };
        int incarnation = role.Incarnation;
        process.Exited += (_, _) => _events.Writer.TryWrite((role.Name, $"exited {incarnation} {SafeExitCode(process)}", null));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        role.Process = process;
        Log($"{tag} started, pid {process.Id}, port {_ports[role.Name]}");
    }

    private static int SafeExitCode(Process p)
    {
        try
        {
            return p.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener!.AcceptTcpClientAsync(ct).ConfigureAwait(false);
            }
            catch (Exception)
            {
                return;
            }
            client.NoDelay = true;
            var control = new ControlChannel(client);
            _ = Task.Run(async () =>
            {
                var lines = Channel.CreateUnbounded<string>();
                _ = control.PumpAsync(lines.Writer, ct);
                await foreach (var line in lines.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                    _events.Writer.TryWrite((null, line, control));
            }, CancellationToken.None);
        }
    }

    private RoleState? RoleOf(ControlChannel? from) => from is null ? null : _roles.Values.FirstOrDefault(r => ReferenceEquals(r.Control, from));

    private void Handle(string? roleName, string line, ControlChannel? from, ref bool started)
    {
        var parts = line.Split(' ');
        var sender = RoleOf(from);
        switch (parts[0])
        {
            case "tick":
                CheckBarrierTimeouts();
                return;
            case "hello":
            {
                var role = _roles[parts[1]];
                role.Control = from;
                role.Live = true;
                Log($"[{role.Name}#{role.Incarnation}] registered");
                if (!started && _roles.Values.All(r => r.Live))
                {
                    started = true;
                    foreach (var r in _roles.Values)
                        _ = r.Control!.SendAsync("start");
                }
                else if (started)
                {
                    _ = from!.SendAsync("start");
                    if (_pendingRestarts.Remove(role.Name, out var requester))
                        _ = _roles[requester].Control?.SendAsync("ok");
                }
                return;
            }
            case "exited":
            {
                var role = _roles[roleName!];
                if (int.Parse(parts[1], CultureInfo.InvariantCulture) != role.Incarnation)
                    return;
                role.Exited = true;
                role.Live = false;
                int code = int.Parse(parts[2], CultureInfo.InvariantCulture);
                Log($"[{role.Name}#{role.Incarnation}] exited with code {code}");
                if (!role.Killed && code != 0)
                    _failure ??= $"role {role.Name} (incarnation {role.Incarnation}) exited with code {code}";
                CompleteBarriers();
                return;
            }
            case "finished":
                if (sender is not null)
                {
                    sender.Finished = true;
                    sender.Live = false;
                    CompleteBarriers();
                }
                return;
            case "barrier":
            {
                if (sender is null)
                    return;
                string name = parts[1];
                if (!_barriers.TryGetValue(name, out var b))
                    _barriers[name] = b = ([], DateTime.UtcNow);
                b.Arrived.Add(sender.Name);
                Log($"[{sender.Name}#{sender.Incarnation}] entered barrier {name}");
                CompleteBarriers();
                return;
            }
            case "rule":
            {
                if (sender is null)
                    return;
                string a = parts[1], b = parts[2], mode = parts[3], arg = parts[4];
                var targets = new List<(string On, string Remote)> { (a, b) };
                if (mode != "throttle")
                    targets.Add((b, a));
                string id = "rule" + (++_ruleIds).ToString(CultureInfo.InvariantCulture);
                int sent = 0;
                foreach (var (on, remote) in targets)
                {
                    if (_roles[on] is { Live: true, Control: { } c })
                    {
                        _ = c.SendAsync($"apply-rule {remote} {mode} {arg}");
                        _pendingRules[on + "#" + id] = (sender.Name, 0);
                        sent++;
                    }
                }
                Log($"rule {mode} {a} -> {b} ({arg}) requested by {sender.Name}");
                if (sent == 0)
                    _ = sender.Control!.SendAsync("ok");
                else
                    _pendingRules[id] = (sender.Name, sent);
                return;
            }
            case "rule-applied":
            {
                if (sender is null)
                    return;
                var key = _pendingRules.Keys.FirstOrDefault(k => k.StartsWith(sender.Name + "#", StringComparison.Ordinal));
                if (key is null)
                    return;
                _pendingRules.Remove(key);
                string id = key[(key.IndexOf('#', StringComparison.Ordinal) + 1)..];
                var (requester, left) = _pendingRules[id];
                if (left <= 1)
                {
                    _pendingRules.Remove(id);
                    _ = _roles[requester].Control?.SendAsync("ok");
                }
                else
                {
                    _pendingRules[id] = (requester, left - 1);
                }
                return;
            }
            case "kill":
            {
                var victim = _roles[parts[1]];
                victim.Killed = true;
                victim.Live = false;
                if (victim.Process is { HasExited: false } p)
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(5000);
                }
                victim.Control?.Dispose();
                victim.Control = null;
                Log($"[{victim.Name}#{victim.Incarnation}] killed with SIGKILL by {sender?.Name}");
                _ = sender?.Control?.SendAsync("ok");
                CompleteBarriers();
                return;
            }
            case "restart":
            {
                var role = _roles[parts[1]];
                // A role that has just finished may still be exiting: give it a moment.
                if (role.Process is { } running && !running.WaitForExit(10_000))
                {
                    _ = sender?.Control?.SendAsync($"failed {role.Name} is still running");
                    return;
                }
                _pendingRestarts[role.Name] = sender!.Name;
                StartProcess(role);
                return;
            }
        }
    }

    private void CompleteBarriers()
    {
        var live = _roles.Values.Where(r => r.Live).Select(r => r.Name).ToHashSet();
        foreach (var (name, b) in _barriers.ToArray())
        {
            if (b.Arrived.Count == 0 || !live.All(b.Arrived.Contains))
                continue;
            _barriers.Remove(name);
            foreach (var r in b.Arrived)
                _ = _roles[r].Control?.SendAsync("ok");
            Log($"barrier {name} passed by {string.Join(",", b.Arrived.Order())}");
        }
    }

    private void CheckBarrierTimeouts()
    {
        var limit = MultiProcessSettings.Dilated(_spec.BarrierTimeout);
        foreach (var (name, b) in _barriers.ToArray())
        {
            if (DateTime.UtcNow - b.First <= limit)
                continue;
            var missing = _roles.Values.Where(r => r.Live && !b.Arrived.Contains(r.Name)).Select(r => r.Name);
            _failure ??= $"barrier {name} timed out after {limit.TotalSeconds:0} s; missing: {string.Join(",", missing)}";
            foreach (var r in b.Arrived)
                _ = _roles[r].Control?.SendAsync($"failed barrier {name} timed out");
            _barriers.Remove(name);
        }
    }
}
