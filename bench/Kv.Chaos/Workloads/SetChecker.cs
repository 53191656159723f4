namespace Kv.Chaos.Workloads;

/// <summary>
/// The set checker (Jepsen's): at the end, every acknowledged add must be in its key's set (lost
/// otherwise), and no element that was never added may appear (unexpected). Also counted:
/// recovered (an add that was not acknowledged, info or fail, but is there at the end), stale
/// reads (a read during the run that missed an element whose add was acknowledged before the read
/// began), unread (a key whose final read never succeeded). Valid when lost, unexpected and unread are 0.
/// </summary>
public static class SetChecker
{
    public static CheckResult Check(IReadOnlyList<Op> history)
    {
        var adds = history.Where(o => o.Kind == "add").ToList();
        var finals = RegisterChecker.FinalReads(history);
        var examples = new List<string>();
        long lost = 0, unexpected = 0, recovered = 0, unread = 0, stale = 0;
        foreach (var group in adds.GroupBy(a => a.Key, StringComparer.Ordinal))
        {
            if (!finals.TryGetValue(group.Key, out var read) || read.Outcome != Outcome.Ok || read.Values is null)
            {
                unread++;
                RegisterChecker.Example(examples, $"unread: {group.Key}: {read?.Error ?? "no final read"}");
                continue;
            }
            var present = read.Values.ToHashSet(StringComparer.Ordinal);
            var attempted = group.Select(a => a.Value!).ToHashSet(StringComparer.Ordinal);
            foreach (var add in group)
            {
                bool there = present.Contains(add.Value!);
                if (add.Outcome == Outcome.Ok && !there)
                {
                    lost++;
                    RegisterChecker.Example(examples, $"lost: {add.Value} added to {add.Key} (acknowledged at {add.Complete:0} ms), missing at the end");
                }
                else if (add.Outcome != Outcome.Ok && there)
                {
                    recovered++;
                }
            }
            foreach (string element in present.Where(e => !attempted.Contains(e)))
            {
                unexpected++;
                RegisterChecker.Example(examples, $"unexpected: {element} in {group.Key}, never added to it");
            }
        }
        foreach (var key in finals.Keys.Where(k => adds.All(a => a.Key != k)))
        {
            var read = finals[key];
            if (read.Values is { Count: > 0 } values)
            {
                unexpected += values.Count;
                RegisterChecker.Example(examples, $"unexpected: {key} holds [{string.Join(",", values.Take(5))}] but nothing was added to it");
            }
        }
        stale = StaleReads(history, adds, examples);
        return new CheckResult("set", lost == 0 && unexpected == 0 && unread == 0,
        [
            new("attempted", adds.Count),
            new("acknowledged", adds.Count(a => a.Outcome == Outcome.Ok)),
            new("failed", adds.Count(a => a.Outcome == Outcome.Fail)),
            new("indeterminate", adds.Count(a => a.Outcome == Outcome.Info)),
            new("lost", lost),
            new("unexpected", unexpected),
            new("recovered", recovered),
            new("stale reads", stale),
            new("unread", unread),
        ], examples);
    }

    /// <summary>Reads that missed an element acknowledged before they began.</summary>
    private static long StaleReads(IReadOnlyList<Op> history, List<Op> adds, List<string> examples)
    {
        var acked = adds.Where(a => a.Outcome == Outcome.Ok).GroupBy(a => a.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(a => a.Complete).ToList(), StringComparer.Ordinal);
        long stale = 0;
        foreach (var read in history.Where(o => o.Kind == "read" && o.Outcome == Outcome.Ok && o.Values is not null))
        {
            if (!acked.TryGetValue(read.Key, out var done))
                continue;
            var seen = read.Values!.ToHashSet(StringComparer.Ordinal);
            var missed = done.TakeWhile(a => a.Complete < read.Invoke).FirstOrDefault(a => !seen.Contains(a.Value!));
            if (missed is not null)
            {
                stale++;
                if (stale <= 3)
                    RegisterChecker.Example(examples, $"stale read: {read.Client} read {read.Key} at {read.Invoke:0} ms without {missed.Value} (acknowledged at {missed.Complete:0} ms)");
            }
        }
        return stale;
    }
}
