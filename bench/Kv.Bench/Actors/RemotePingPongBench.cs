using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using Kv.Actors.Vnode;
using Kv.Actors.Wire;

namespace Kv.Bench.Actors;

/// <summary>
/// Akka.NET's RemotePingPong on Akka.Remote (dot-netty TCP) across two OS processes on loopback:
/// this process runs the clients, a child process runs one echo actor per client; each client
/// keeps <c>--in-flight</c> (50) messages going and counts <c>--messages</c> round trips; both
/// directions are counted, as Akka.NET counts them.
/// <c>--payload store</c> (default): the message is a store request, a <see cref="VnodeGet"/> with
/// an 8-byte key, serialized by the store's <see cref="KvSerializer"/> (protobuf) as between nodes;
/// <c>--payload bytes</c>: an 8-byte <c>byte[]</c> (Akka's ByteArraySerializer).
/// Both systems run Akka's default remoting settings with <see cref="KvSerializer.Config"/>;
/// <c>--hocon "..."</c> is laid over both for tuning experiments.
/// </summary>
public static class RemotePingPongBench
{
    private const string AddressPrefix = "echo-server-address ";

    /// <summary>
    /// Set once the figures are printed: the server's log from then on is only the disassociation
    /// that this process's shutdown causes, and is not passed on.
    /// </summary>
    private static volatile bool s_finished;

    public static int Run(BenchArgs args, string what)
    {
        if (what == "echo-server")
            return EchoServer(args);
        if (what != "pingpong")
            throw new ArgumentException($"unknown remote benchmark '{what}' (known: pingpong)");
        string clientList = args.String("clients", "1,10");
        long messages = args.Long("messages", 100_000);
        int inFlight = (int)args.Long("in-flight", 50);
        int runs = (int)args.Long("runs", 3);
        string payload = args.String("payload", "store");
        string hocon = args.String("hocon", "");
        args.RejectUnknown();
        int[] clientCounts;
        try
        {
            clientCounts = clientList.Split(',').Select(c => int.Parse(c, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"--clients wants a comma-separated list of counts, e.g. 1,10 (not '{clientList}')");
        }
        if (clientCounts.Any(c => c < 1) || messages < 1 || inFlight < 1 || runs < 1)
            throw new ArgumentException("--clients, --messages, --in-flight and --runs must be >= 1");
        object message = Message(payload);
        var config = SystemConfig(hocon); // parse before anything starts: a bad --hocon is an argument error

        var system = ActorSystem.Create("client", config);
        using var server = StartServer(clientCounts.Max(), hocon);
        try
        {
            string serverAddress = ReadServerAddress(server);
            var serializer = system.Serialization.FindSerializerFor(message);
            int size = serializer.ToBinary(message).Length;
            Console.WriteLine($"remote pingpong: Akka.Remote (dot-netty TCP, loopback), echo server pid {server.Id} at {serverAddress}");
            Console.WriteLine($"  payload {payload}: {Describe(message)}, {size} bytes by {serializer.GetType().Name} (id {serializer.Identifier})");
            Console.WriteLine($"  {messages:N0} round trips per client, {inFlight} in flight per client, {runs} runs each, both directions counted" +
                (hocon.Length > 0 ? $"; extra HOCON: {hocon}" : "; Akka's default remoting settings"));
            Console.WriteLine("clients, total messages, median msg/s, median us CPU/msg (both processes), runs (msg/s)");
            foreach (int clients in clientCounts)
            {
                var rates = new List<double>();
                var cpu = new List<double>();
                for (int run = 0; run < runs; run++)
                {
                    var (rate, cpuPerMessage) = RunOnce(system, server, serverAddress, message, clients, messages, inFlight);
                    rates.Add(rate);
                    cpu.Add(cpuPerMessage);
                }
                long total = clients * messages * 2;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{clients,7}, {total,14:N0}, {ActorsBench.Median(rates),15:N0}, {ActorsBench.Median(cpu),8:0.00}, {string.Join(" ", rates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
            }
        }
        finally
        {
            s_finished = true;
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            server.StandardInput.Close();
            if (!server.WaitForExit(10_000))
                server.Kill(entireProcessTree: true);
        }
        return 0;
    }

    /// <summary>The message both sides bounce.</summary>
    private static object Message(string payload) => payload switch
    {
        // A replica read as a get coordinator sends it to a vnode.
        "store" => new VnodeGet("default"u8.ToArray(), BitConverter.GetBytes(0x0123456789ABCDEFL), 42),
        "bytes" => new byte[8],
        _ => throw new ArgumentException($"--payload must be store or bytes (not '{payload}')"),
    };

    private static string Describe(object message) => message switch
    {
        VnodeGet g => $"VnodeGet (a replica read: namespace \"default\", {g.Key.Length}-byte key, request id)",
        byte[] b => $"byte[{b.Length}]",
        _ => message.GetType().Name,
    };

    /// <summary>
    /// provider = remote on an ephemeral loopback port, the store's serializers, and Akka's
    /// defaults for the rest; <paramref name="extra"/> wins over all of it.
    /// </summary>
    private static Config SystemConfig(string extra)
    {
        Config overrides;
        try
        {
            overrides = ConfigurationFactory.ParseString(extra);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ArgumentException($"--hocon does not parse: {e.Message}");
        }
        return overrides
            .WithFallback(ConfigurationFactory.ParseString("""
                akka.actor.provider = remote
                akka.remote.dot-netty.tcp.hostname = 127.0.0.1
                akka.remote.dot-netty.tcp.port = 0
                akka.loglevel = WARNING
                akka.log-dead-letters = off
                akka.remote.log-remote-lifecycle-events = off
                """))
            .WithFallback(KvSerializer.Config);
    }

    /// <summary>One timed run: messages per second, and CPU microseconds per message of both processes together.</summary>
    private static (double Rate, double CpuPerMessage) RunOnce(ActorSystem system, Process server, string serverAddress, object message, int clients, long messages, int inFlight)
    {
        using var done = new CountdownEvent(clients);
        var senders = new List<IActorRef>();
        for (int i = 0; i < clients; i++)
        {
            var echo = system.ActorSelection($"{serverAddress}/user/echo{i}").ResolveOne(TimeSpan.FromSeconds(10)).Result;
            // The association is up and the echo answers this very message type before timing starts.
            echo.Ask<object>(message, TimeSpan.FromSeconds(10)).Wait();
            senders.Add(system.ActorOf(Props.Create(() => new PingClient(echo, message, messages, inFlight, done))));
        }
        var cpuBefore = BothCpu(server);
        var sw = Stopwatch.StartNew();
        foreach (var s in senders)
            s.Tell(PingClient.Start.Instance);
        if (!done.Wait(TimeSpan.FromMinutes(5)))
            throw new TimeoutException("remote pingpong did not finish in 5 minutes");
        sw.Stop();
        var cpu = BothCpu(server) - cpuBefore;
        foreach (var s in senders)
            system.Stop(s);
        double total = clients * messages * 2;
        return (total / sw.Elapsed.TotalSeconds, cpu.TotalMicroseconds / total);
    }

    private static TimeSpan BothCpu(Process server)
    {
        server.Refresh();
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime + server.TotalProcessorTime;
    }

    private static Process StartServer(int echoes, string hocon)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        string self = Environment.ProcessPath!;
        psi.FileName = self;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            psi.ArgumentList.Add(typeof(RemotePingPongBench).Assembly.Location);
        foreach (string a in new[] { "remote", "echo-server", "--echoes", echoes.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        if (hocon.Length > 0)
        {
            psi.ArgumentList.Add("--hocon");
            psi.ArgumentList.Add(hocon);
        }
        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null && !s_finished)
                Console.Error.WriteLine($"echo-server: {e.Data}");
        };
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>The server's address line; anything Akka logs to stdout before it is passed on.</summary>
    private static string ReadServerAddress(Process server)
    {
        while (server.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith(AddressPrefix, StringComparison.Ordinal))
            {
                // Keep draining its stdout (Akka's warnings) so the child never blocks on a full pipe.
                _ = Task.Run(() =>
                {
                    while (server.StandardOutput.ReadLine() is { } rest)
                    {
                        if (!s_finished)
                            Console.Error.WriteLine($"echo-server: {rest}");
                    }
                });
                return line[AddressPrefix.Length..];
            }
            Console.Error.WriteLine($"echo-server: {line}");
        }
        throw new InvalidOperationException("the echo server exited before it printed its address");
    }

    /// <summary>The child process: echo actors until stdin closes.</summary>
    private static int EchoServer(BenchArgs args)
    {
        int echoes = (int)args.Long("echoes", 10);
        string hocon = args.String("hocon", "");
        args.RejectUnknown();
        var system = ActorSystem.Create("server", SystemConfig(hocon));
        for (int i = 0; i < echoes; i++)
            system.ActorOf(Props.Create<Echo>(), $"echo{i}");
        Console.WriteLine(AddressPrefix + ((ExtendedActorSystem)system).Provider.DefaultAddress);
        Console.Out.Flush();
        Console.In.ReadToEnd();
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return 0;
    }

    /// <summary>Replies with what it got.</summary>
    private sealed class Echo : UntypedActor
    {
        protected override void OnReceive(object message) => Sender.Tell(message, Self);
    }

    /// <summary>
    /// On <see cref="Start"/> sends <c>inFlight</c> messages to the echo, then one more for every
    /// reply until <c>messages</c> have been sent; signals when all replies are back.
    /// </summary>
    private sealed class PingClient(IActorRef echo, object message, long messages, int inFlight, CountdownEvent done) : UntypedActor
    {
        private long _sent;
        private long _received;

        public sealed class Start
        {
            public static readonly Start Instance = new();
        }

        protected override void OnReceive(object msg)
        {
            if (msg is Start)
            {
                for (int i = 0; i < inFlight && _sent < messages; i++)
                    Send();
                return;
            }
            if (++_received == messages)
                done.Signal();
            if (_sent < messages)
                Send();
        }

        private void Send()
        {
            _sent++;
            echo.Tell(message, Self);
        }
    }
}
