using System.Globalization;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Clients add unique elements to a few shared sets (namespace `sets`, datatype set: add-wins
/// OR-sets) at W=2 DW=2, and one op in four removes an element whose add this client had
/// acknowledged earlier (so the remove is causally after the add at the client). The remove's
/// answer says how many members it removed at its coordinating replica (0: that replica had not
/// seen the add yet, so by observed-remove semantics the element stays). Each element is added
/// once and updates are never sent twice. <see cref="SetCrdtChecker"/> judges the final sets.
/// </summary>
public sealed class SetCrdtWorkload(Kv.Actors.Coordinators.RequestOptions? write = null) : IWorkload
{
    private readonly Kv.Actors.Coordinators.RequestOptions _write = write ?? Requests.Write;

    public const int Keys = 3;

    public string Name => "set-crdt";

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        var added = new List<(string Key, string Element)>();
        for (int i = 0; await pacer.NextAsync(stop).ConfigureAwait(false); i++)
        {
            if (added.Count > 0 && random.Next(4) == 0)
            {
                int pick = random.Next(added.Count);
                var (key, element) = added[pick];
                added.RemoveAt(pick);
                double invoke = history.Now;
                try
                {
                    long removed = await kv.SetRemoveAsync(DataTypeRequests.Sets, key, element, _write).ConfigureAwait(false);
                    history.Add(new Op(name, "remove", key, element, [removed.ToString(CultureInfo.InvariantCulture)], invoke, history.Now, Outcome.Ok));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    history.Add(new Op(name, "remove", key, element, null, invoke, history.Now, Outcomes.OfWriteError(e), Outcomes.Describe(e)));
                }
                continue;
            }
            string k = "set" + random.Next(Keys).ToString(CultureInfo.InvariantCulture);
            string e1 = $"{client}.{i}";
            if (await Requests.WriteAsync(history, name, "add", k, e1, () => kv.SetAddAsync(DataTypeRequests.Sets, k, e1, _write)).ConfigureAwait(false) == Outcome.Ok)
                added.Add((k, e1));
        }
    }

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        DataTypeRequests.FinalReadAsync(history, Enumerable.Range(0, Keys).Select(k => "set" + k.ToString(CultureInfo.InvariantCulture)),
            key => kv.SetMembersAsync(DataTypeRequests.Sets, key, Requests.Read), ct);

    public CheckResult Check(IReadOnlyList<Op> history) => SetCrdtChecker.Check(history);
}

/// <summary>
/// The OR-set checker. Every element is added once, and removed (if at all) only after its add was
/// acknowledged, so no add is concurrent with a remove of the same element and add-wins never
/// applies; what must hold at the end, per key:
/// <list type="bullet">
/// <item>lost: an acknowledged add with no remove that may have removed it (an acknowledged remove
/// that removed it at its coordinating replica, or an indeterminate one) is missing;</item>
/// <item>resurrected: an element whose acknowledged remove removed it (answered 1) is present;</item>
/// <item>unexpected: an element never added to that key is present.</item>
/// </list>
/// An acknowledged remove that answered 0 removed nothing (its coordinating replica had not seen
/// the add: observed-remove), so the element must still be there. Valid when lost, resurrected,
/// unexpected and unread are 0.
/// </summary>
public static class SetCrdtChecker
{
    public static CheckResult Check(IReadOnlyList<Op> history)
    {
        var adds = history.Where(o => o.Kind == "add").ToList();
        var removes = history.Where(o => o.Kind == "remove").ToList();
        var finals = RegisterChecker.FinalReads(history);
        var examples = new List<string>();
        long lost = 0, resurrected = 0, unexpected = 0, unread = 0, missedRemoves = 0;
        foreach (var key in adds.Select(a => a.Key).Concat(finals.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (!finals.TryGetValue(key, out var read) || read.Outcome != Outcome.Ok || read.Values is null)
            {
                unread++;
                RegisterChecker.Example(examples, $"unread: {key}: {read?.Error ?? "no final read"}");
                continue;
            }
            var present = read.Values.ToHashSet(StringComparer.Ordinal);
            var attempted = adds.Where(a => a.Key == key).Select(a => a.Value!).ToHashSet(StringComparer.Ordinal);
            var removesOf = removes.Where(r => r.Key == key).ToLookup(r => r.Value!, StringComparer.Ordinal);
            foreach (var add in adds.Where(a => a.Key == key && a.Outcome == Outcome.Ok))
            {
                var rs = removesOf[add.Value!].ToList();
                bool removed = rs.Any(r => r.Outcome == Outcome.Ok && r.Values is ["1"]);
                bool mayHaveRemoved = removed || rs.Any(r => r.Outcome == Outcome.Info);
                missedRemoves += rs.Count(r => r.Outcome == Outcome.Ok && r.Values is ["0"]);
                if (!mayHaveRemoved && !present.Contains(add.Value!))
                {
                    lost++;
                    RegisterChecker.Example(examples, $"lost: {add.Value} added to {key} (acknowledged at {add.Complete:0} ms), never removed, missing at the end");
                }
                if (removed && present.Contains(add.Value!))
                {
                    resurrected++;
                    RegisterChecker.Example(examples, $"resurrected: {add.Value} removed from {key} (acknowledged), present at the end");
                }
            }
            foreach (string element in present.Where(e => !attempted.Contains(e)))
            {
                unexpected++;
                RegisterChecker.Example(examples, $"unexpected: {element} in {key}, never added to it");
            }
        }
        return new CheckResult("set-crdt", lost == 0 && resurrected == 0 && unexpected == 0 && unread == 0,
        [
            new("adds", adds.Count),
            new("acknowledged", adds.Count(a => a.Outcome == Outcome.Ok)),
            new("adds indeterminate", adds.Count(a => a.Outcome == Outcome.Info)),
            new("removes", removes.Count),
            new("removes acknowledged", removes.Count(r => r.Outcome == Outcome.Ok)),
            new("removes that found nothing", missedRemoves),
            new("lost", lost),
            new("resurrected", resurrected),
            new("unexpected", unexpected),
            new("unread", unread),
        ], examples);
    }
}
