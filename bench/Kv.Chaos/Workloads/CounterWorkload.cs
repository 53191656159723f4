using System.Globalization;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Clients increment and decrement a few shared counters (namespace `counters`, datatype counter)
/// by small random amounts (one in four a decrement) at W=2 DW=2; each update is recorded with its
/// amount. An update is never sent twice (the client does not retry one that may have been
/// applied). <see cref="CounterChecker"/> judges the final values.
/// </summary>
public sealed class CounterWorkload(Kv.Actors.Coordinators.RequestOptions? write = null) : IWorkload
{
    private readonly Kv.Actors.Coordinators.RequestOptions _write = write ?? Requests.Write;

    public const int Keys = 3;

    public string Name => "counter";

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        while (await pacer.NextAsync(stop).ConfigureAwait(false))
        {
            string key = "ctr" + random.Next(Keys).ToString(CultureInfo.InvariantCulture);
            long by = random.Next(4) == 0 ? -random.Next(1, 4) : random.Next(1, 6);
            await Requests.WriteAsync(history, name, "incr", key, by.ToString(CultureInfo.InvariantCulture),
                () => kv.IncrementAsync(DataTypeRequests.Counters, key, by, _write)).ConfigureAwait(false);
        }
    }

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        DataTypeRequests.FinalReadAsync(history, Enumerable.Range(0, Keys).Select(k => "ctr" + k.ToString(CultureInfo.InvariantCulture)),
            async key => [(await kv.GetCounterAsync(DataTypeRequests.Counters, key, Requests.Read).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture)], ct);

    public CheckResult Check(IReadOnlyList<Op> history) => CounterChecker.Check(history);
}

/// <summary>
/// The counter checker: per key, the final value must be the sum of the acknowledged updates plus
/// some subset of the indeterminate ones (each either applied or not; refused ones never):
/// acked + (indeterminate decrements) ≤ final ≤ acked + (indeterminate increments). Below is
/// "lost" (an acknowledged update missing, or a decrement counted twice), above is "extra" (an
/// update counted twice, or a refused one applied). Valid when lost, extra and unread are 0.
/// </summary>
public static class CounterChecker
{
    public static CheckResult Check(IReadOnlyList<Op> history)
    {
        var updates = history.Where(o => o.Kind == "incr").ToList();
        var finals = RegisterChecker.FinalReads(history);
        var examples = new List<string>();
        long lost = 0, extra = 0, unread = 0, exact = 0;
        foreach (var key in updates.Select(u => u.Key).Concat(finals.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var mine = updates.Where(u => u.Key == key).ToList();
            long acked = mine.Where(u => u.Outcome == Outcome.Ok).Sum(Amount);
            long low = acked + mine.Where(u => u.Outcome == Outcome.Info).Select(Amount).Where(a => a < 0).Sum();
            long high = acked + mine.Where(u => u.Outcome == Outcome.Info).Select(Amount).Where(a => a > 0).Sum();
            if (!finals.TryGetValue(key, out var read) || read.Outcome != Outcome.Ok || read.Values is not [var text])
            {
                unread++;
                RegisterChecker.Example(examples, $"unread: {key}: {read?.Error ?? "no final read"}");
                continue;
            }
            long final = long.Parse(text, CultureInfo.InvariantCulture);
            if (final < low)
            {
                lost++;
                RegisterChecker.Example(examples, $"lost: {key} = {final} at the end, below {low} (acknowledged sum {acked}, indeterminate decrements included)");
            }
            else if (final > high)
            {
                extra++;
                RegisterChecker.Example(examples, $"extra: {key} = {final} at the end, above {high} (acknowledged sum {acked}, indeterminate increments included)");
            }
            else if (final == acked)
            {
                exact++;
            }
        }
        return new CheckResult("counter", lost == 0 && extra == 0 && unread == 0,
        [
            new("attempted", updates.Count),
            new("acknowledged", updates.Count(u => u.Outcome == Outcome.Ok)),
            new("failed", updates.Count(u => u.Outcome == Outcome.Fail)),
            new("indeterminate", updates.Count(u => u.Outcome == Outcome.Info)),
            new("keys exactly the acknowledged sum", exact),
            new("lost", lost),
            new("extra", extra),
            new("unread", unread),
        ], examples);
    }

    private static long Amount(Op op) => long.Parse(op.Value!, CultureInfo.InvariantCulture);
}
