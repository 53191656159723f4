namespace Kv.Chaos.Workloads;

/// <summary>
/// The delete checker. Per key (its operations are sequential, one client each), after healing
/// and past the tombstone grace, for every value the final read returns:
/// - resurrected: its put was acknowledged and a delete acknowledged later (invoked after the put
///   completed) should have removed it for good;
/// - wrong: its put was acknowledged and overwritten by a later acknowledged put (an old value
///   back beside or instead of the new one);
/// - unexpected: never written.
/// And lost: the key's last acknowledged operation was a put (a re-creation) and its value is not
/// there, with no indeterminate operation after it that could explain that. Values of
/// indeterminate puts may appear (they may take effect at any time). Valid when all are 0 and
/// every key was read at the end.
/// </summary>
public static class DeleteChecker
{
    public static CheckResult Check(IReadOnlyList<Op> history)
    {
        var writes = history.Where(o => o.Kind is "put" or "delete").ToList();
        var finals = RegisterChecker.FinalReads(history);
        var examples = new List<string>();
        long resurrected = 0, wrong = 0, unexpected = 0, lost = 0, unread = 0, absentOk = 0, presentOk = 0;
        foreach (var group in writes.GroupBy(o => o.Key, StringComparer.Ordinal))
        {
            var ops = group.OrderBy(o => o.Invoke).ToList();
            if (!finals.TryGetValue(group.Key, out var read) || read.Outcome != Outcome.Ok || read.Values is null)
            {
                unread++;
                RegisterChecker.Example(examples, $"unread: {group.Key}: {read?.Error ?? "no final read"}");
                continue;
            }
            var values = read.Values;
            foreach (string value in values.Distinct(StringComparer.Ordinal))
            {
                var put = ops.FirstOrDefault(o => o.Kind == "put" && o.Value == value);
                if (put is null)
                {
                    unexpected++;
                    RegisterChecker.Example(examples, $"unexpected: {group.Key} holds '{value}', never written");
                    continue;
                }
                if (put.Outcome != Outcome.Ok)
                    continue;
                var later = ops.Where(o => o.Outcome == Outcome.Ok && o.Invoke > put.Complete).ToList();
                if (later.FirstOrDefault(o => o.Kind == "delete") is { } delete)
                {
                    resurrected++;
                    RegisterChecker.Example(examples, $"resurrected: {group.Key} = '{value}' (put acknowledged at {put.Complete:0} ms, deleted at {delete.Complete:0} ms) is back: [{string.Join(", ", values)}]");
                }
                else if (later.FirstOrDefault(o => o.Kind == "put") is { } newer)
                {
                    wrong++;
                    RegisterChecker.Example(examples, $"wrong: {group.Key} = '{value}' is back though '{newer.Value}' replaced it at {newer.Complete:0} ms: [{string.Join(", ", values)}]");
                }
            }
            var last = ops.LastOrDefault(o => o.Outcome == Outcome.Ok);
            bool infoAfter = last is not null && ops.Any(o => o.Outcome == Outcome.Info && o.Invoke > last.Invoke);
            if (last is { Kind: "put" } && !values.Contains(last.Value!) && !infoAfter)
            {
                lost++;
                RegisterChecker.Example(examples, $"lost: {group.Key} = '{last.Value}' (acknowledged at {last.Complete:0} ms, the last operation) is not there: [{string.Join(", ", values)}]");
            }
            if (last is { Kind: "delete" } && !infoAfter && values.Count == 0)
                absentOk++;
            if (last is { Kind: "put" } && !infoAfter && values.Count == 1 && values[0] == last.Value)
                presentOk++;
        }
        return new CheckResult("delete", resurrected == 0 && wrong == 0 && unexpected == 0 && lost == 0 && unread == 0,
        [
            new("puts", writes.Count(o => o.Kind == "put")),
            new("deletes", writes.Count(o => o.Kind == "delete")),
            new("acknowledged", writes.Count(o => o.Outcome == Outcome.Ok)),
            new("failed", writes.Count(o => o.Outcome == Outcome.Fail)),
            new("indeterminate", writes.Count(o => o.Outcome == Outcome.Info)),
            new("keys deleted at the end", absentOk),
            new("keys re-created at the end", presentOk),
            new("resurrected", resurrected),
            new("wrong", wrong),
            new("lost", lost),
            new("unexpected", unexpected),
            new("unread", unread),
        ], examples);
    }
}
