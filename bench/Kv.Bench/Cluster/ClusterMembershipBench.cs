using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Kv.Actors.Wire;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Bench.Cluster;

/// <summary>
/// <c>cluster membership</c>: Akka.Cluster in real OS processes on loopback (each an actor system
/// `kv`, provider = cluster, Akka.Remote dot-netty TCP, Akka's default timings, which are the
/// node's: no store actors run, only membership). Reports the time for a 5th node to be Up on every
/// node, the time from kill -9 of a node to it being unreachable on every other node and then
/// downed by the split brain resolver and removed everywhere, and the TCP bytes per second each
/// node sends (gossip + heartbeats, nothing else runs) with 5 and 10 members, counted by .NET's
/// socket telemetry in each node process.
/// </summary>
public static class ClusterMembershipBench
{
    public static int Run(BenchArgs args, string what)
    {
        if (what == "node")
            return Node(args);
        if (what != "membership")
            throw new ArgumentException($"unknown cluster benchmark '{what}' (known: membership)");
        int window = (int)args.Long("window", 10);
        args.RejectUnknown();
        var ports = Enumerable.Range(0, 10).Select(_ => FreePort()).ToArray();
        string seeds = $"akka.tcp://kv@127.0.0.1:{ports[0]},akka.tcp://kv@127.0.0.1:{ports[1]}";
        var nodes = new List<NodeProcess>();
        try
        {
            Console.WriteLine("cluster membership: Akka.Cluster 1.5 node processes, Akka's default timings (gossip 1 s, heartbeat 1 s, phi 8, acceptable pause 3 s, split brain resolver keep-majority, stable-after 20 s)");
            for (int i = 0; i < 4; i++)
                nodes.Add(NodeProcess.Start(ports[i], seeds));
            WaitFor(nodes, n => n.Up == 4 && n.Total == 4, TimeSpan.FromSeconds(60), "4 nodes Up");
            var sw = Stopwatch.StartNew();
            nodes.Add(NodeProcess.Start(ports[4], seeds));
            WaitFor(nodes, n => n.Up == 5 && n.Total == 5, TimeSpan.FromSeconds(60), "5th node Up everywhere");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"5th node Up on every node: {sw.Elapsed.TotalSeconds:0.00} s after its process started"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"remoting bytes/s per node, 5 members: {BytesPerSecond(nodes, window):N0} (median over nodes, {window} s window)"));

            var victim = nodes[4];
            sw.Restart();
            victim.Kill();
            var rest = nodes.Take(4).ToList();
            WaitFor(rest, n => n.Unreachable > 0 || n.Total == 4, TimeSpan.FromSeconds(60), "victim unreachable");
            double unreachableAfter = sw.Elapsed.TotalSeconds;
            WaitFor(rest, n => n.Total == 4 && n.Up == 4 && n.Unreachable == 0, TimeSpan.FromSeconds(120), "victim removed");
            double removedAfter = sw.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kill -9 -> unreachable on all others: {unreachableAfter:0.00} s (required <= 10 s)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kill -9 -> downed and removed on all others: {removedAfter:0.00} s (required <= stable-after + 10 = 30 s)"));

            nodes.RemoveAt(4);
            for (int i = 4; i < 10; i++)
                nodes.Add(NodeProcess.Start(ports[i], seeds));
            WaitFor(nodes, n => n.Up == 10 && n.Total == 10, TimeSpan.FromSeconds(120), "10 nodes Up");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"remoting bytes/s per node, 10 members: {BytesPerSecond(nodes, window):N0} (median over nodes, {window} s window)"));
        }
        finally
        {
            foreach (var n in nodes)
                n.Kill();
        }
        return 0;
    }

    private static double BytesPerSecond(List<NodeProcess> nodes, int seconds)
    {
        var before = nodes.Select(n => n.BytesSent).ToArray();
        var sw = Stopwatch.StartNew();
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        var rates = nodes.Select((n, i) => (n.BytesSent - before[i]) / sw.Elapsed.TotalSeconds).Order().ToList();
        return rates[rates.Count / 2];
    }

    private static void WaitFor(List<NodeProcess> nodes, Func<NodeProcess, bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!nodes.All(condition))
        {
            if (sw.Elapsed > timeout)
                throw new TimeoutException($"{what}: not reached in {timeout.TotalSeconds:0} s; " + string.Join("; ", nodes.Select(n => n.Last)));
            Thread.Sleep(20);
        }
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>
    /// The child: one Akka.Cluster node (system `kv`, the store's serializers, Akka's defaults
    /// otherwise) that prints its view every 100 ms until stdin closes.
    /// </summary>
    private static int Node(BenchArgs args)
    {
        int port = (int)args.Long("port", 0);
        var seeds = args.String("seeds", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        args.RejectUnknown();
        using var bytes = new SocketBytesSent();
        var config = ConfigurationFactory.ParseString($$"""
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{port.ToString(CultureInfo.InvariantCulture)}} }
            akka.cluster.seed-nodes = [{{string.Join(", ", seeds.Select(a => "\"" + a + "\""))}}]
            akka.loglevel = WARNING
            akka.log-dead-letters = off
            """).WithFallback(KvSerializer.Config);
        var system = ActorSystem.Create("kv", config);
        var cluster = ClusterExt.Get(system);
        _ = Task.Run(() =>
        {
            Console.In.ReadToEnd();
            system.Terminate();
        });
        while (!system.WhenTerminated.Wait(100))
        {
            var s = cluster.State;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"status up={s.Members.Count(m => m.Status == MemberStatus.Up)} total={s.Members.Count} unreachable={s.Unreachable.Count} bytes={bytes.Total}"));
        }
        // A downed node says so in its exit code (10 = downed), as the node host does.
        return CoordinatedShutdown.Get(system).ShutdownReason is CoordinatedShutdown.ClusterDowningReason ? 10 : 0;
    }

    /// <summary>
    /// The bytes this process has sent over TCP so far: .NET's System.Net.Sockets telemetry
    /// counter <c>bytes-sent</c> (DotNetty, under Akka.Remote, sends through System.Net.Sockets),
    /// read every 500 ms.
    /// </summary>
    private sealed class SocketBytesSent : EventListener
    {
        private long _total;

        public long Total => Interlocked.Read(ref _total);

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "System.Net.Sockets")
                EnableEvents(source, EventLevel.LogAlways, EventKeywords.All, new Dictionary<string, string?> { ["EventCounterIntervalSec"] = "0.5" });
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName != "EventCounters" || e.Payload is not { Count: > 0 } || e.Payload[0] is not IDictionary<string, object> counter)
                return;
            if (counter.TryGetValue("Name", out var name) && name as string == "bytes-sent" && counter.TryGetValue("Mean", out var mean))
                Interlocked.Exchange(ref _total, (long)Convert.ToDouble(mean, CultureInfo.InvariantCulture));
        }
    }

    private sealed class NodeProcess
    {
        private readonly Process _process;

        private NodeProcess(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => OnLine(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public volatile int Up;
        public volatile int Total;
        public volatile int Unreachable;
        private long _bytes;

        public long BytesSent => Interlocked.Read(ref _bytes);

        public string Last { get; private set; } = "(nothing yet)";

        public static NodeProcess Start(int port, string seeds)
        {
            var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            string self = Environment.ProcessPath!;
            psi.FileName = self;
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
                psi.ArgumentList.Add(typeof(ClusterMembershipBench).Assembly.Location);
            foreach (var a in new[] { "cluster", "node", "--port", port.ToString(CultureInfo.InvariantCulture), "--seeds", seeds })
                psi.ArgumentList.Add(a);
            return new NodeProcess(Process.Start(psi)!);
        }

        private void OnLine(string? line)
        {
            if (line is null || !line.StartsWith("status ", StringComparison.Ordinal))
                return;
            Last = line;
            foreach (var part in line.Split(' ').Skip(1))
            {
                var kv = part.Split('=');
                long v = long.Parse(kv[1], CultureInfo.InvariantCulture);
                switch (kv[0])
                {
                    case "up": Up = (int)v; break;
                    case "total": Total = (int)v; break;
                    case "unreachable": Unreachable = (int)v; break;
                    case "bytes": Interlocked.Exchange(ref _bytes, v); break;
                }
            }
        }

        public void Kill()
        {
            try
            {
                if (!_process.HasExited)
                    _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
