namespace Kv.Chaos.Workloads;

/// <summary>
/// The register checker: every acknowledged write must read back at the end with its value and
/// nothing else. Counts: acknowledged, failed, indeterminate (info) writes; lost (an acknowledged
/// key not found), wrong (found with another value, or with siblings besides its value), unread
/// (the final read of an acknowledged key never succeeded). Valid when lost, wrong and unread are 0.
/// </summary>
public static class RegisterChecker
{
    public static CheckResult Check(IReadOnlyList<Op> history)
    {
        var writes = history.Where(o => o.Kind == "write").ToList();
        var finals = FinalReads(history);
        long lost = 0, wrong = 0, unread = 0;
        var examples = new List<string>();
        foreach (var w in writes.Where(w => w.Outcome == Outcome.Ok))
        {
            if (!finals.TryGetValue(w.Key, out var read) || read.Outcome != Outcome.Ok)
            {
                unread++;
                Example(examples, $"unread: {w.Key} (acknowledged at {w.Complete:0} ms): {read?.Error ?? "no final read"}");
            }
            else if (read.Values is not { Count: > 0 } values)
            {
                lost++;
                Example(examples, $"lost: {w.Key} = {w.Value} acknowledged at {w.Complete:0} ms, not found at the end");
            }
            else if (values.Any(v => v != w.Value))
            {
                wrong++;
                Example(examples, $"wrong: {w.Key} = {w.Value} acknowledged, read [{string.Join(", ", values)}]");
            }
        }
        return new CheckResult("register", lost == 0 && wrong == 0 && unread == 0,
        [
            new("acknowledged", writes.Count(w => w.Outcome == Outcome.Ok)),
            new("failed", writes.Count(w => w.Outcome == Outcome.Fail)),
            new("indeterminate", writes.Count(w => w.Outcome == Outcome.Info)),
            new("lost", lost),
            new("wrong", wrong),
            new("unread", unread),
        ], examples);
    }

    /// <summary>The last final read of each key.</summary>
    internal static Dictionary<string, Op> FinalReads(IReadOnlyList<Op> history)
    {
        var finals = new Dictionary<string, Op>(StringComparer.Ordinal);
        foreach (var op in history.Where(o => o.Kind == Op.FinalRead))
            finals[op.Key] = op;
        return finals;
    }

    internal static void Example(List<string> examples, string text)
    {
        if (examples.Count < 10)
            examples.Add(text);
    }
}
