using Akka.Configuration;
using Kv.Node;

namespace Kv.Actors.Tests;

/// <summary>
/// Akka configurations of the test systems, built as the node builds its own (NodeSettings from
/// kv.* settings: cluster provider, remoting, KvSerializer.Config) with cluster timings fast
/// enough for tests, and the TestKit's event listener so EventFilter sees the logs.
/// </summary>
internal static class KvTestConfig
{
    // TestKit probes block their thread while they wait and test classes run in parallel: keep
    // the pool from starving the systems under test on a 2-core machine (see ThreadPoolFloor).
    static KvTestConfig() => Kv.MultiProcess.ThreadPoolFloor.Raise();

    private static readonly Config TestLogging = ConfigurationFactory.ParseString("""
        akka.loggers = ["Akka.TestKit.TestEventListener, Akka.TestKit"]
        akka.loglevel = INFO
        """);

    /// <summary>The node's Akka config on 127.0.0.1:<paramref name="port"/> (0: any free port), with fast failure detection.</summary>
    public static Config Node(int port = 0, bool chaos = false, string acceptableHeartbeatPause = "600ms", string stableAfter = "1500ms") =>
        TestLogging.WithFallback(NodeSettings.Load(NodeArguments.Parse([
            "--kv.remote.hostname=127.0.0.1",
            $"--kv.remote.port={port}",
            $"--kv.chaos.enabled={(chaos ? "on" : "off")}",
            "--kv.cluster.gossip-interval=200ms",
            "--kv.cluster.leader-actions-interval=200ms",
            "--kv.cluster.seed-node-timeout=1s",
            "--kv.cluster.retry-unsuccessful-join-after=500ms",
            "--kv.cluster.heartbeat-interval=200ms",
            $"--kv.cluster.failure-detector.acceptable-heartbeat-pause={acceptableHeartbeatPause}",
            $"--kv.cluster.split-brain-resolver.stable-after={stableAfter}",
        ])).Akka);

    /// <summary>A local system (actors and probes in one process) with the store's serializers bound.</summary>
    public static Config Local { get; } = TestLogging.WithFallback(Kv.Actors.Wire.KvSerializer.Config);
}
