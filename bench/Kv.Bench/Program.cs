using Kv.Bench.Actors;
using Kv.Bench.Cluster;
using Kv.Bench.Storage;

namespace Kv.Bench;

/// <summary>Entry point: `Kv.Bench storage|actors|remote|cluster|etcd ...` (actors, remoting and membership on Akka.NET).</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("""
                usage: Kv.Bench storage [--benchmarks fillrandom,readrandom,fillseq,readseq] [--num N] [--key-size B] [--value-size B] [--sync] [--threads N] [--db DIR]
                       Kv.Bench actors pingpong [--pairs N] [--messages N] [--in-flight N] [--throughput N] [--runs N]
                       Kv.Bench actors spawn [--count N] [--in-flight N] [--runs N]
                       Kv.Bench remote pingpong [--clients 1,10] [--messages N] [--in-flight N] [--runs N] [--payload store|bytes] [--hocon "akka.x = v ..."]
                       Kv.Bench cluster membership [--window SECONDS]
                       Kv.Bench etcd put --endpoints http://host:port,... [--records N] [--threads N] [--value-size B]   (bench/compare-etcd.sh starts the etcd cluster)
                       Kv.Bench etcd cas --endpoints http://host:port,... [--ops N] [--threads N] [--keys N] [--value-size B] [--warmup-seconds S] [--compare value|mod]   (bench/compare-etcd.sh cas)
                       Kv.Bench cluster cas [--ops N] [--threads N] [--keys N] [--value-size B] [--warmup-seconds S] [--namespace consistent] [--nodes host:port,...]
                       Kv.Bench cluster ycsb [--workload a|b|c|f] [--records N] [--operations N] [--threads N] [--target OPS] [--value-size B] [--namespace ycsb|default|NAME] [--nodes host:port,...] [--node-settings kv.x=v,...] [--skip-load] [--status SECONDS] [--raw FILE]
                       Kv.Bench cluster batch-get [--callers 8] [--batch 100] [--records 10000] [--rounds 5] [--seconds 5] [--value-size 100] [--nodes host:port,...]
                """);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            return args[0] switch
            {
                "storage" => StorageBench.Run(BenchArgs.Parse(args[1..])),
                "actors" when args.Length > 1 => ActorsBench.Run(BenchArgs.Parse(args[2..]), args[1]),
                "remote" when args.Length > 1 => RemotePingPongBench.Run(BenchArgs.Parse(args[2..]), args[1]),
                "etcd" when args.Length > 1 && args[1] == "put" => EtcdPutBench.Run(BenchArgs.Parse(args[2..])),
                "etcd" when args.Length > 1 && args[1] == "cas" => EtcdCasBench.Run(BenchArgs.Parse(args[2..])),
                "cluster" when args.Length > 1 && args[1] == "cas" => ClusterCasBench.Run(BenchArgs.Parse(args[2..])),
                "cluster" when args.Length > 1 && args[1] == "ycsb" => YcsbBench.Run(BenchArgs.Parse(args[2..])),
                "cluster" when args.Length > 1 && args[1] == "batch-get" => BatchGetBench.Run(BenchArgs.Parse(args[2..])),
                "cluster" when args.Length > 1 => ClusterMembershipBench.Run(BenchArgs.Parse(args[2..]), args[1]),
                _ => Fail($"unknown benchmark '{string.Join(' ', args.Take(2))}' (known: storage, actors pingpong|spawn, remote pingpong, cluster membership|ycsb|batch-get|cas, etcd put|cas)"),
            };
        }
        catch (ArgumentException e)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 2;
    }
}
