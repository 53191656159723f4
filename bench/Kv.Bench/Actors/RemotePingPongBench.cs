using System.Diagnostics;
using System.Globalization;
using Kv.Cluster.Actor;
using Kv.Cluster.Remote;

namespace Kv.Bench.Actors;

/// <summary>
/// Akka.NET's RemotePingPong across two OS processes on loopback: this process runs the clients,
/// a child process runs one echo actor per client; each client primes 50 messages and counts
/// <c>--messages</c> round trips; both directions are counted, as Akka.NET counts them.
/// </summary>
public static class RemotePingPongBench
{
    private const string Secret = "bench";

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
        args.RejectUnknown();
        var clientCounts = clientList.Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray();

        using var server = StartServer(clientCounts.Max());
        string serverAddress = server.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the echo server did not start: " + server.StandardError.ReadToEnd());
        Console.WriteLine($"remote pingpong: echo server pid {server.Id} at {serverAddress}; {messages:N0} round trips per client, {inFlight} in flight, {runs} runs each");
        Console.WriteLine("clients, total messages, median msg/s, runs (msg/s)");
        var system = ActorSystem.Create("client", new ActorSystemOptions { Remote = new RemoteOptions { Secret = Secret }, DeadLetterLogLimit = 0 });
        try
        {
            foreach (int clients in clientCounts)
            {
                var rates = new List<double>();
                for (int run = 0; run < runs; run++)
                    rates.Add(RunOnce(system, serverAddress, clients, messages, inFlight, run));
                long total = clients * messages * 2;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{clients,7}, {total,14:N0}, {ActorsBench.Median(rates),15:N0}, {string.Join(" ", rates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
            }
        }
        finally
        {
            system.Terminate().Wait();
            server.StandardInput.Close();
            if (!server.WaitForExit(5000))
                server.Kill();
        }
        return 0;
    }

    private static double RunOnce(ActorSystem system, string serverAddress, int clients, long messages, int inFlight, int run)
    {
        var done = new CountdownEvent(clients);
        var senders = new List<IActorRef>();
        for (int i = 0; i < clients; i++)
        {
            var echo = system.ResolveActorRef(ActorPath.Parse($"{serverAddress}/user/echo{i}"));
            // Make sure the association is up and the echo answers before timing.
            echo.Ask<long>(0L, TimeSpan.FromSeconds(10)).Wait();
            senders.Add(system.ActorOf(Props.Create(() => new Client(echo, messages, done)), $"client{i}-run{run}-{Guid.NewGuid():N}"));
        }
        var sw = Stopwatch.StartNew();
        foreach (var s in senders)
        {
            for (int i = 0; i < inFlight; i++)
                s.Tell(1L, null);
        }
        if (!done.Wait(TimeSpan.FromMinutes(5)))
            throw new TimeoutException("remote pingpong did not finish in 5 minutes");
        sw.Stop();
        foreach (var s in senders)
            system.Stop(s);
        return clients * messages * 2 / sw.Elapsed.TotalSeconds;
    }

    private static Process StartServer(int echoes)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        string self = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            psi.FileName = self;
            psi.ArgumentList.Add(typeof(RemotePingPongBench).Assembly.Location);
        }
        else
        {
            psi.FileName = self;
        }
        psi.ArgumentList.Add("remote");
        psi.ArgumentList.Add("echo-server");
        psi.ArgumentList.Add("--echoes");
        psi.ArgumentList.Add(echoes.ToString(CultureInfo.InvariantCulture));
        return Process.Start(psi)!;
    }

    /// <summary>The child process: echo actors until stdin closes.</summary>
    private static int EchoServer(BenchArgs args)
    {
        int echoes = (int)args.Long("echoes", 10);
        args.RejectUnknown();
        var system = ActorSystem.Create("server", new ActorSystemOptions { Remote = new RemoteOptions { Secret = Secret }, DeadLetterLogLimit = 0 });
        for (int i = 0; i < echoes; i++)
            system.ActorOf(Props.Create(() => new ActorsBench.Pong()), $"echo{i}");
        Console.WriteLine(system.Address);
        Console.Out.Flush();
        Console.In.ReadToEnd();
        system.Terminate().Wait();
        return 0;
    }

    private sealed class Client(IActorRef echo, long messages, CountdownEvent done) : ActorBase
    {
        private long _sent;
        private long _received;

        protected override bool Receive(object message)
        {
            if (!ReferenceEquals(Sender, Context.System.DeadLetters) && ++_received == messages)
                done.Signal();
            if (_sent < messages)
            {
                _sent++;
                echo.Tell(message, Self);
            }
            return true;
        }
    }
}
