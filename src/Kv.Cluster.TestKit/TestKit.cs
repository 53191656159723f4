using Kv.Cluster.Actor;
using Kv.Cluster.Remote;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kv.Cluster.TestKit;

/// <summary>
/// Base class of actor tests: a system (<see cref="Sys"/>) with a default probe
/// (<see cref="TestActor"/>), more systems on demand (in-process multi-system specs, optionally
/// with remoting on free loopback ports), and everything terminated at the end of the test.
/// </summary>
public abstract class TestKit : IAsyncDisposable, IDisposable
{
    private readonly List<ActorSystem> _systems = [];
    private readonly ILoggerFactory _loggerFactory;
    private readonly Lock _lazyLock = new();
    private TestProbe? _testActor;
    private ActorSystem? _sys;

    static TestKit() => ThreadPoolFloor.Raise();

    /// <summary>Creates the kit; logs go to <paramref name="output"/> when given.</summary>
    protected TestKit(ITestOutputHelper? output = null)
    {
        Output = output;
        _loggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(LogLevel.Debug);
            b.AddProvider(new TestOutputLoggerProvider(output));
        });
    }

    /// <summary>The test's output.</summary>
    protected ITestOutputHelper? Output { get; }

    /// <summary>The default system (local only unless <see cref="DefaultOptions"/> says otherwise).</summary>
    protected ActorSystem Sys
    {
        get
        {
            lock (_lazyLock)
                return _sys ??= CreateSystem(GetType().Name, DefaultOptions);
        }
    }

    /// <summary>Options of <see cref="Sys"/>.</summary>
    protected virtual ActorSystemOptions DefaultOptions => new();

    /// <summary>The default probe.</summary>
    protected TestProbe Probe
    {
        get
        {
            lock (_lazyLock)
                return _testActor ??= new TestProbe(Sys, "testActor");
        }
    }

    /// <summary>The default probe's ref.</summary>
    protected IActorRef TestActor => Probe.Ref;

    /// <summary>A new probe in <paramref name="system"/> (default <see cref="Sys"/>).</summary>
    protected TestProbe CreateTestProbe(ActorSystem? system = null, string? name = null) => new(system ?? Sys, name);

    /// <summary>Another system, terminated with the test. Logs go to the test output.</summary>
    protected ActorSystem CreateSystem(string name, ActorSystemOptions? options = null)
    {
        var system = ActorSystem.Create(name, (options ?? new ActorSystemOptions()) with { LoggerFactory = _loggerFactory, LogLevel = LogLevel.Debug });
        lock (_systems)
            _systems.Add(system);
        return system;
    }

    /// <summary>A system with remoting on a free loopback port.</summary>
    protected ActorSystem CreateRemoteSystem(string name, RemoteOptions? remote = null, ActorSystemOptions? options = null) =>
        CreateSystem(name, (options ?? new ActorSystemOptions()) with { Remote = remote ?? FastRemote() });

    /// <summary>A loopback port free right now (for systems that must come back on the same port).</summary>
    public static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Remote settings with short timings for tests.</summary>
    public static RemoteOptions FastRemote(int port = 0) => new()
    {
        Hostname = "127.0.0.1",
        Port = port,
        Secret = "test-secret",
        HandshakeTimeout = TimeSpan.FromSeconds(2),
        ReconnectMinBackoff = TimeSpan.FromMilliseconds(20),
        ReconnectMaxBackoff = TimeSpan.FromMilliseconds(300),
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        WatchFailureTimeout = TimeSpan.FromSeconds(2),
    };

    /// <summary>Cluster settings with short timings for tests (gossip 200 ms, failure detection in about a second, stable-after 1.5 s).</summary>
    public static Kv.Cluster.Cluster.ClusterOptions FastCluster(params string[] seeds) => new()
    {
        SeedNodes = seeds,
        GossipInterval = TimeSpan.FromMilliseconds(200),
        LeaderActionsInterval = TimeSpan.FromMilliseconds(200),
        SeedNodeTimeout = TimeSpan.FromSeconds(1),
        RetryUnsuccessfulJoinAfter = TimeSpan.FromMilliseconds(500),
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        AcceptableHeartbeatPause = TimeSpan.FromMilliseconds(600),
        StableAfter = TimeSpan.FromSeconds(1.5),
    };

    /// <summary>Shortcut for the default probe.</summary>
    protected T ExpectMsg<T>(TimeSpan? timeout = null) => Probe.ExpectMsg<T>(timeout);

    /// <summary>Shortcut for the default probe.</summary>
    protected T ExpectMsg<T>(Predicate<T> predicate, TimeSpan? timeout = null) => Probe.ExpectMsg<T>(predicate, timeout, null);

    /// <summary>Shortcut for the default probe.</summary>
    protected T ExpectMsg<T>(T expected, TimeSpan? timeout = null) where T : notnull => Probe.ExpectMsg(expected, timeout);

    /// <summary>Shortcut for the default probe.</summary>
    protected void ExpectNoMsg(TimeSpan? duration = null) => Probe.ExpectNoMsg(duration);

    /// <summary>Polls <paramref name="condition"/> until true; fails after <paramref name="timeout"/>.</summary>
    protected static void AwaitCondition(Func<bool> condition, TimeSpan? timeout = null, string? what = null)
    {
        var end = DateTime.UtcNow + (timeout is { } t ? TestKitSettings.Dilated(t) : TestKitSettings.DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > end)
                throw new TestKitException($"condition not met in time{(what is null ? "" : ": " + what)}");
            Thread.Sleep(10);
        }
    }

    /// <summary>Waits (without blocking a thread) until <paramref name="condition"/> holds, or throws.</summary>
    public static async Task AwaitConditionAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, string? what = null)
    {
        var end = DateTime.UtcNow + (timeout is { } t ? TestKitSettings.Dilated(t) : TestKitSettings.DefaultTimeout);
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > end)
                throw new TestKitException($"condition not met in time{(what is null ? "" : ": " + what)}");
            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        ActorSystem[] systems;
        lock (_systems)
            systems = [.. _systems];
        var all = Task.WhenAll(systems.Select(s => s.Terminate()));
        await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
        _loggerFactory.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
