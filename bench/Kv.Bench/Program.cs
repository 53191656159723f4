using Kv.Bench.Storage;

namespace Kv.Bench;

/// <summary>Entry point: `Kv.Bench storage ...` (more areas join as the store grows).</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: Kv.Bench storage [--benchmarks fillrandom,readrandom,fillseq,readseq] [--num N] [--key-size B] [--value-size B] [--sync] [--threads N] [--db DIR]");
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            return args[0] switch
            {
                "storage" => StorageBench.Run(BenchArgs.Parse(args[1..])),
                _ => Fail($"unknown benchmark area '{args[0]}' (known: storage)"),
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
