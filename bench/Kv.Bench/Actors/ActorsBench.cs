using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Configuration;

namespace Kv.Bench.Actors;

/// <summary>
/// In-process benchmarks of Akka.NET's local actors (default dispatcher). <c>actors pingpong</c>: pairs of actors bounce a message, with
/// <c>--in-flight</c> messages per pair primed (as Akka.NET's RemotePingPong primes 50), both
/// directions counted. <c>actors spawn</c>: a parent creates a child per "request", the child
/// answers once and stops itself (the per-request coordinator pattern); reports spawn+stop per second.
/// </summary>
public static class ActorsBench
{
    public static int Run(BenchArgs args, string what)
    {
        int runs = (int)args.Long("runs", 5);
        return what switch
        {
            "pingpong" => PingPong(args, runs),
            "spawn" => Spawn(args, runs),
            _ => throw new ArgumentException($"unknown actors benchmark '{what}' (known: pingpong, spawn)"),
        };
    }

    private static int PingPong(BenchArgs args, int runs)
    {
        int pairs = (int)args.Long("pairs", Environment.ProcessorCount);
        long messages = args.Long("messages", 5_000_000);
        int inFlight = (int)args.Long("in-flight", 100);
        int throughput = (int)args.Long("throughput", 100);
        args.RejectUnknown();
        Console.WriteLine($"actors pingpong: {pairs} pairs, {messages:N0} round trips per pair, {inFlight} in flight per pair, throughput {throughput}, {runs} runs");
        var rates = new List<double>();
        for (int run = 0; run < runs; run++)
        {
            var system = ActorSystem.Create("pingpong", LocalConfig(
                $"akka.actor.default-dispatcher.throughput = {throughput.ToString(CultureInfo.InvariantCulture)}"));
            var done = new CountdownEvent(pairs);
            var pingers = new List<IActorRef>();
            for (int p = 0; p < pairs; p++)
            {
                var pong = system.ActorOf(Props.Create<Pong>());
                pingers.Add(system.ActorOf(Props.Create(() => new Ping(pong, messages, done))));
            }
            var sw = Stopwatch.StartNew();
            foreach (var ping in pingers)
            {
                for (int i = 0; i < inFlight; i++)
                    ping.Tell(Ball.Instance, ActorRefs.NoSender);
            }
            done.Wait();
            sw.Stop();
            double rate = pairs * messages * 2 / sw.Elapsed.TotalSeconds;
            rates.Add(rate);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  run {run + 1}: {pairs * messages * 2:N0} messages in {sw.Elapsed.TotalMilliseconds:0} ms = {rate / 1e6:0.00}M msg/s"));
            system.Terminate().Wait();
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"actors pingpong median: {Median(rates) / 1e6:0.00}M msg/s (target >= 10M)"));
        return 0;
    }

    private static int Spawn(BenchArgs args, int runs)
    {
        long count = args.Long("count", 1_000_000);
        int inFlight = (int)args.Long("in-flight", 1000);
        args.RejectUnknown();
        Console.WriteLine($"actors spawn: {count:N0} children per run (spawn, one message, stop), {inFlight} alive at a time, {runs} runs");
        var rates = new List<double>();
        for (int run = 0; run < runs; run++)
        {
            var system = ActorSystem.Create("spawn", LocalConfig(""));
            var done = new ManualResetEventSlim();
            var sw = Stopwatch.StartNew();
            system.ActorOf(Props.Create(() => new Spawner(count, inFlight, done)));
            done.Wait();
            sw.Stop();
            double rate = count / sw.Elapsed.TotalSeconds;
            rates.Add(rate);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  run {run + 1}: {count:N0} actors in {sw.Elapsed.TotalMilliseconds:0} ms = {rate / 1e3:0}K spawn+stop/s"));
            system.Terminate().Wait();
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"actors spawn median: {Median(rates) / 1e3:0}K spawn+stop/s"));
        return 0;
    }

    /// <summary>Akka's defaults (local provider) with its log kept to warnings.</summary>
    private static Config LocalConfig(string extra) =>
        ConfigurationFactory.ParseString(extra).WithFallback(ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.log-dead-letters = off
            """));

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed class Ball
    {
        public static readonly Ball Instance = new();
    }

    /// <summary>Replies with what it got.</summary>
    private sealed class Pong : UntypedActor
    {
        protected override void OnReceive(object message) => Sender.Tell(message, Self);
    }

    private sealed class Ping(IActorRef pong, long messages, CountdownEvent done) : UntypedActor
    {
        private long _sent;
        private long _received;

        protected override void OnReceive(object message)
        {
            if (Sender.IsNobody())
            {
                _sent++; // priming message from outside
                pong.Tell(message, Self);
                return;
            }
            if (++_received == messages)
                done.Signal();
            if (_sent < messages)
            {
                _sent++;
                pong.Tell(message, Self);
            }
        }
    }

    private sealed class Work
    {
        public static readonly Work Instance = new();
    }

    private sealed class Child : UntypedActor
    {
        protected override void OnReceive(object message)
        {
            Context.Parent.Tell(message, Self);
            Context.Stop(Self);
        }
    }

    private sealed class Spawner : UntypedActor
    {
        private static readonly Props ChildProps = Props.Create<Child>();
        private readonly long _count;
        private readonly ManualResetEventSlim _done;
        private long _spawned;
        private long _finished;

        public Spawner(long count, int inFlight, ManualResetEventSlim done)
        {
            _count = count;
            _done = done;
            for (int i = 0; i < inFlight && _spawned < count; i++)
                SpawnOne();
        }

        private void SpawnOne()
        {
            _spawned++;
            Context.ActorOf(ChildProps).Tell(Work.Instance, Self);
        }

        protected override void OnReceive(object message)
        {
            if (++_finished == _count)
                _done.Set();
            else if (_spawned < _count)
                SpawnOne();
        }
    }
}
