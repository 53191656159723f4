using System.Globalization;
using System.Threading.Channels;
using Akka.Actor;

namespace Kv.MultiProcess;

/// <summary>What a multi-node spec sees inside one role's process.</summary>
public sealed class MultiNodeContext
{
    private readonly ControlChannel _control;
    private readonly Channel<string> _replies;
    private readonly IReadOnlyDictionary<string, Address> _addresses;
    private readonly SemaphoreSlim _oneRequest = new(1, 1);

    internal MultiNodeContext(string role, int incarnation, ActorSystem system, ControlChannel control, Channel<string> replies, IReadOnlyDictionary<string, Address> addresses, TimeSpan barrierTimeout)
    {
        Role = role;
        Incarnation = incarnation;
        System = system;
        _control = control;
        _replies = replies;
        _addresses = addresses;
        BarrierTimeout = barrierTimeout;
    }

    /// <summary>This process's role.</summary>
    public string Role { get; }

    /// <summary>1 for the first start, 2+ after Restart.</summary>
    public int Incarnation { get; }

    /// <summary>This role's Akka.NET actor system (remoting on its fixed port).</summary>
    public ActorSystem System { get; }

    internal TimeSpan BarrierTimeout { get; }

    /// <summary>A directory of this role's own that survives its restarts (removed after a spec that passed).</summary>
    public string DataDirectory =>
        Path.Combine(global::System.Environment.GetEnvironmentVariable(MultiNodeTestRunner.DataDirectoryVariable) ?? Path.GetTempPath(), Role);

    /// <summary>The remoting address of a role.</summary>
    public Address AddressOf(string role) =>
        _addresses.TryGetValue(role, out var a) ? a : throw new ArgumentException($"no role '{role}'", nameof(role));

    /// <summary>Writes a line to this role's log (gathered by the harness).</summary>
    public void Log(string message) => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{Role}#{Incarnation}] {message}");

    /// <summary>Waits until every live role has entered the barrier.</summary>
    public Task EnterBarrier(string name) => RequestAsync($"barrier {name}", BarrierTimeout + TimeSpan.FromSeconds(5));

    /// <summary>Runs <paramref name="body"/> only on the listed roles.</summary>
    public async Task RunOn(string role, Func<Task> body)
    {
        if (role == Role)
            await body().ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="body"/> only on the listed roles.</summary>
    public Task RunOn(IEnumerable<string> roles, Func<Task> body) => roles.Contains(Role) ? body() : Task.CompletedTask;

    /// <summary>Drops all traffic between two roles, both ways.</summary>
    public Task Blackhole(string a, string b) => RequestAsync($"rule {a} {b} blackhole 0", TimeSpan.FromSeconds(10));

    /// <summary>Removes fault rules between two roles.</summary>
    public Task PassThrough(string a, string b) => RequestAsync($"rule {a} {b} pass 0", TimeSpan.FromSeconds(10));

    /// <summary>Limits what <paramref name="a"/> sends to <paramref name="b"/> to a byte rate.</summary>
    public Task Throttle(string a, string b, long bytesPerSecond) =>
        RequestAsync(string.Create(CultureInfo.InvariantCulture, $"rule {a} {b} throttle {bytesPerSecond}"), TimeSpan.FromSeconds(10));

    /// <summary>Kills a role's process with SIGKILL; it leaves the barrier set.</summary>
    public Task Kill(string role) => RequestAsync($"kill {role}", TimeSpan.FromSeconds(20));

    /// <summary>Starts a killed role again (same port, new uid); returns when it runs.</summary>
    public Task Restart(string role) => RequestAsync($"restart {role}", TimeSpan.FromSeconds(60));

    private async Task RequestAsync(string line, TimeSpan timeout)
    {
        await _oneRequest.WaitAsync().ConfigureAwait(false);
        try
        {
            await _control.SendAsync(line).ConfigureAwait(false);
            using var cts = new CancellationTokenSource(timeout);
            string reply;
            try
            {
                reply = await _replies.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new MultiProcessException($"no answer from the controller to '{line}' within {timeout.TotalSeconds:0} s");
            }
            catch (ChannelClosedException)
            {
                throw new MultiProcessException($"the controller went away during '{line}'");
            }
            if (!reply.StartsWith("ok", StringComparison.Ordinal))
                throw new MultiProcessException($"'{line}' failed: {reply}");
        }
        finally
        {
            _oneRequest.Release();
        }
    }
}
