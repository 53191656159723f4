using System.Globalization;

namespace Kv.Chaos;

/// <summary>
/// <c>Kv.Chaos run --workload W --nemesis LIST [--nodes 5] [--time 60] [--seed S] [--rate R]
/// [--clients C] [--dir DIR]</c>: one fault campaign (docs/chaos.md). Exit codes: 0 valid,
/// 1 invalid, 2 usage error, 3 the campaign could not run (the cluster did not form, ...).
/// </summary>
public static class Program
{
    public const string Usage = """
        usage: Kv.Chaos run --workload register|set|delete|ttl|counter|set-crdt|cas-register|consistent-counter --nemesis kill,pause,partition,churn,wipe
                            [--nodes 3|5] [--time SECONDS] [--seed N] [--rate OPS] [--clients N] [--w 1..3] [--dir DIR]

        Starts real Kv.Node processes (fresh data), runs the workload from concurrent clients while the
        nemesis injures the cluster, heals it, waits for it to settle, reads everything back at R=2 and
        checks the history. Defaults: --nodes 5 --time 60 --rate 100 --clients 5 --w 2, a random seed,
        --dir ./chaos-runs/<time>-<workload>-<nemesis>-<seed>. Exit 0: valid; 1: invalid; 2: usage; 3: could not run.

               Kv.Chaos check --workload W --history RUN-DIR/history.jsonl [--budget SECONDS]
        Checks a recorded history again (the linearizability checker's budget defaults to 60 s).
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args is ["check", .. var rest])
            return HistoryCheck.Run(rest, Console.Out, Console.Error);
        CampaignOptions options;
        try
        {
            var parsed = Parse(args);
            if (parsed is null)
            {
                Console.WriteLine(Usage);
                return 0;
            }
            options = parsed;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine("kv-chaos: " + e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            Console.Error.WriteLine("interrupted: stopping the campaign and killing the nodes");
            cts.Cancel();
        };
        try
        {
            var result = await Campaign.RunAsync(options, cts.Token).ConfigureAwait(false);
            Console.WriteLine();
            Console.Write(result.Summary());
            return result.Valid ? 0 : 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("kv-chaos: interrupted; nothing checked");
            return 3;
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException or Kv.Client.KvException or Akka.Actor.AskTimeoutException)
        {
            Console.Error.WriteLine($"kv-chaos: the campaign could not run: {e.Message}");
            return 3;
        }
    }

    /// <summary>The options, or null for --help. Throws <see cref="ArgumentException"/> on bad input.</summary>
    public static CampaignOptions? Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] is "-h" or "--help" or "help")
            return null;
        if (args[0] != "run")
            throw new ArgumentException($"unknown command '{args[0]}' (run or check)");
        var options = new CampaignOptions { Log = Console.Out };
        for (int i = 1; i < args.Count; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help")
                return null;
            if (!name.StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"unexpected argument '{name}'");
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
                (name, value) = (name[..eq], name[(eq + 1)..]);
            else if (i + 1 < args.Count)
                value = args[++i];
            if (value is null)
                throw new ArgumentException($"{name} needs a value");
            options = name switch
            {
                "--workload" => options with { Workload = value },
                "--nemesis" => options with { Nemeses = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--nodes" => options with { Nodes = Int(name, value) },
                "--time" => options with { Time = TimeSpan.FromSeconds(Int(name, value)) },
                "--seed" => options with { Seed = Int(name, value) },
                "--rate" => options with { Rate = Int(name, value) },
                "--clients" => options with { Clients = Int(name, value) },
                "--w" => options with { W = Int(name, value) },
                "--dir" => options with { Directory = value },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }
        return options.Problem() is string problem ? throw new ArgumentException(problem) : options;
    }

    private static int Int(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0 ? n : throw new ArgumentException($"{name} needs a non-negative whole number, not '{value}'");
}
