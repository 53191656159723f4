using System.Globalization;
using Kv.Chaos.Linearizability;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Turns a campaign history into the linearizability checker's operations and its verdict into a
/// <see cref="CheckResult"/>. Failed operations are left out (they did not happen); indeterminate
/// (info) ones are open (they may have happened, at any time after their call, or never); final
/// reads are reads like the others.
/// </summary>
public static class LinearizableCheck
{
    /// <summary>The default time budget of the search (over all keys).</summary>
    public static readonly TimeSpan DefaultBudget = TimeSpan.FromSeconds(60);

    /// <summary>The checker's operations for a register (read, write, cas, delete) or, with <paramref name="counter"/>, a counter (read, incr) history.</summary>
    public static List<LinOp> ToLinOps(IEnumerable<Op> history, bool counter)
    {
        var ops = new List<LinOp>();
        foreach (var op in history)
        {
            if (op.Client == Op.NemesisClient || op.Outcome == Outcome.Fail)
                continue;
            double? complete = op.Outcome == Outcome.Ok ? op.Complete : null;
            var lin = new LinOp(LinKind.Read, op.Key, op.Client, op.Invoke, complete);
            switch (op.Kind)
            {
                case "read" or Op.FinalRead when complete is not null:
                    ops.Add(ReadOf(lin, op.Values ?? [], counter));
                    break;
                case "write":
                    ops.Add(lin with { Kind = LinKind.Write, Value = op.Value });
                    break;
                case "delete":
                    ops.Add(lin with { Kind = LinKind.Delete });
                    break;
                case "cas":
                    ops.Add(lin with
                    {
                        Kind = LinKind.Cas,
                        Expected = op.Expected,
                        Value = op.Value,
                        Succeeded = op.Applied ?? false,
                        Current = op.Values is [var current] ? current : null,
                    });
                    break;
                case "incr":
                    ops.Add(lin with
                    {
                        Kind = LinKind.Increment,
                        Amount = long.Parse(op.Value!, CultureInfo.InvariantCulture),
                        Number = op.Values is [var now] ? long.Parse(now, CultureInfo.InvariantCulture) : 0,
                    });
                    break;
            }
        }
        return ops;
    }

    /// <summary>A completed read: what it saw (siblings, which a consistent namespace must never show, become a value no write wrote).</summary>
    private static LinOp ReadOf(LinOp lin, IReadOnlyList<string> values, bool counter)
    {
        string? value = values switch
        {
            [] => null,
            [var one] => one,
            _ => "siblings [" + string.Join(", ", values) + "]",
        };
        long number = 0;
        if (counter && value is not null && !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number))
            number = long.MinValue; // not a number: no counter state matches it
        return lin with { Value = value, Number = number };
    }

    /// <summary>Checks <paramref name="history"/> against <paramref name="model"/>; the counts (operations by outcome, keys by verdict) and the failing keys' messages.</summary>
    public static CheckResult Check<TState>(IReadOnlyList<Op> history, ISequentialModel<TState> model, TimeSpan budget)
    {
        var run = history.Where(o => o.Client is not (Op.NemesisClient or Op.FinalClient)).ToList();
        var result = LinearizabilityChecker.Check(ToLinOps(history, model is CounterModel), model, budget);
        var counts = new List<KeyValuePair<string, long>>
        {
            new("attempted", run.Count),
            new("acknowledged", run.Count(o => o.Outcome == Outcome.Ok)),
            new("failed", run.Count(o => o.Outcome == Outcome.Fail)),
            new("indeterminate", run.Count(o => o.Outcome == Outcome.Info)),
        };
        if (model is RegisterModel)
        {
            counts.Add(new("cas applied", run.Count(o => o.Kind == "cas" && o.Applied == true)));
            counts.Add(new("cas mismatched", run.Count(o => o.Kind == "cas" && o.Applied == false)));
        }
        counts.Add(new("final reads", history.Count(o => o.Kind == Op.FinalRead && o.Outcome == Outcome.Ok)));
        counts.Add(new("keys", result.Keys.Count));
        counts.Add(new("keys linearizable", result.Keys.Count(k => k.Verdict == LinVerdict.Linearizable)));
        counts.Add(new("keys not linearizable", result.Keys.Count(k => k.Verdict == LinVerdict.NotLinearizable)));
        counts.Add(new("keys unknown", result.Keys.Count(k => k.Verdict == LinVerdict.Unknown)));
        var examples = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture,
                $"linearizability ({model.Name} model, Wing-Gong-Lowe search): {result.VerdictName}; {result.Keys.Sum(k => k.Operations)} ops searched in {result.Keys.Sum(k => k.Elapsed.TotalMilliseconds):0} ms, {result.Keys.Sum(k => k.Steps)} steps"),
        };
        examples.AddRange(result.Keys.Where(k => k.Verdict != LinVerdict.Linearizable).Take(5).Select(k => k.Message));
        return new CheckResult("linearizable " + model.Name, result.Valid, counts, examples);
    }
}
