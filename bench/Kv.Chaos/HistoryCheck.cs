using System.Globalization;
using Kv.Chaos.Workloads;

namespace Kv.Chaos;

/// <summary>
/// <c>Kv.Chaos check --workload W --history FILE [--budget SECONDS]</c>: runs a workload's checker
/// again over a campaign's history.jsonl (e.g. the linearizability checker with a larger time
/// budget after an "unknown" verdict). Exit 0 valid, 1 invalid (or unknown), 2 usage, 3 the file
/// could not be read.
/// </summary>
public static class HistoryCheck
{
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        string? workload = null, file = null;
        double budget = LinearizableCheck.DefaultBudget.TotalSeconds;
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string? value = i + 1 < args.Count ? args[++i] : null;
            switch (name)
            {
                case "--workload" when value is not null:
                    workload = value;
                    break;
                case "--history" when value is not null:
                    file = value;
                    break;
                case "--budget" when value is not null && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double b) && b > 0:
                    budget = b;
                    break;
                default:
                    stderr.WriteLine($"kv-chaos check: bad argument '{name}' (usage: Kv.Chaos check --workload W --history FILE [--budget SECONDS])");
                    return 2;
            }
        }
        if (workload is null || file is null || !CampaignOptions.Workloads.Contains(workload))
        {
            stderr.WriteLine($"kv-chaos check: --workload ({string.Join(", ", CampaignOptions.Workloads)}) and --history FILE are required");
            return 2;
        }
        List<Op> ops;
        try
        {
            ops = File.ReadLines(file).Where(l => l.Length > 0).Select(History.Parse).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException)
        {
            stderr.WriteLine($"kv-chaos check: cannot read {file}: {e.Message}");
            return 3;
        }
        var time = TimeSpan.FromSeconds(budget);
        IWorkload checker = workload switch
        {
            "cas-register" => new CasRegisterWorkload(time),
            "consistent-counter" => new ConsistentCounterWorkload(time),
            _ => Campaign.CreateWorkload(workload),
        };
        var result = checker.Check(ops);
        stdout.WriteLine($"checker {result.Checker}: " + string.Join(", ", result.Counts.Select(c => $"{c.Key} {c.Value}")));
        foreach (string example in result.Examples)
            stdout.WriteLine("  " + example);
        stdout.WriteLine(result.Valid ? "verdict: VALID" : "verdict: INVALID");
        return result.Valid ? 0 : 1;
    }
}
