using System.Globalization;
using System.Text;
using Kv.Chaos.Workloads;

namespace Kv.Chaos;

/// <summary>What a campaign found: the checker's verdict and counts, what the nemeses did, where everything is.</summary>
public sealed record CampaignResult(
    CampaignOptions Options,
    string RunDirectory,
    CheckResult Check,
    IReadOnlyDictionary<string, int> NemesisActions,
    long Operations,
    long Ok,
    long Failed,
    long Indeterminate,
    string? SettleProblem,
    IReadOnlyList<(string Phase, TimeSpan Time)> Phases)
{
    /// <summary>Valid: the checker found nothing wrong and the cluster settled after healing.</summary>
    public bool Valid => Check.Valid && SettleProblem is null;

    public string HistoryFile => Path.Combine(RunDirectory, "history.jsonl");

    /// <summary>The one-screen summary.</summary>
    public string Summary()
    {
        var o = Options;
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        s.AppendLine(inv, $"Kv.Chaos: workload {o.Workload}, nemesis {string.Join(",", o.Nemeses)}, {o.Nodes} nodes, {o.Time.TotalSeconds:0} s, seed {o.Seed}, rate {o.Rate:0}/s, {o.Clients} clients, w {o.W}");
        var workload = Phases.FirstOrDefault(p => p.Phase == "workload").Time;
        s.AppendLine(inv, $"operations: {Operations} ({(workload.TotalSeconds > 0 ? Operations / workload.TotalSeconds : 0):0.0}/s): ok {Ok}, fail {Failed}, info {Indeterminate}");
        s.AppendLine("nemesis: " + string.Join(", ", NemesisActions.Select(a => $"{a.Key} x{a.Value}")));
        s.AppendLine($"checker {Check.Checker}: " + string.Join(", ", Check.Counts.Select(c => $"{c.Key} {c.Value}")));
        foreach (string example in Check.Examples)
            s.AppendLine("  " + example);
        if (SettleProblem is not null)
            s.AppendLine("after healing: " + SettleProblem);
        s.AppendLine("time: " + string.Join(", ", Phases.Select(p => $"{p.Phase} {p.Time.TotalSeconds:0.0} s")) + $" (total {Phases.Sum(p => p.Time.TotalSeconds):0.0} s)");
        s.AppendLine($"run dir: {RunDirectory} (history.jsonl, nodeN.log, summary.txt)");
        s.AppendLine(Valid ? "verdict: VALID" : "verdict: INVALID");
        return s.ToString();
    }
}
