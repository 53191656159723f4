using System.Globalization;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Jepsen's Riak set test: clients add unique elements to a few shared keys by read-merge-write.
/// Each add reads the key at R=2, merges the siblings as the union of their elements, adds its
/// element and writes with the read's causal context at W=2 DW=2. The reads are in the history
/// too (for stale reads). <see cref="SetChecker"/> judges it.
/// </summary>
public sealed class SetWorkload(Kv.Actors.Coordinators.RequestOptions? write = null) : IWorkload
{
    private readonly Kv.Actors.Coordinators.RequestOptions _write = write ?? Requests.Write;

    public const int Keys = 5;

    public string Name => "set";

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        for (int i = 0; ; i++)
        {
            if (!await pacer.NextAsync(stop).ConfigureAwait(false))
                return;
            string key = "set" + random.Next(Keys).ToString(CultureInfo.InvariantCulture);
            string element = $"{client}.{i}";
            var obj = await Requests.ReadAsync(history, name, kv, key, Elements).ConfigureAwait(false);
            if (obj is null)
                continue; // the add was never attempted
            var union = new SortedSet<string>(Elements(obj), StringComparer.Ordinal) { element };
            string value = string.Join(',', union);
            await Requests.WriteAsync(history, name, "add", key, element,
                () => kv.PutAsync(Requests.Namespace, key, value, obj.Context, _write)).ConfigureAwait(false);
        }
    }

    /// <summary>The union of the elements of every sibling.</summary>
    public static IReadOnlyList<string> Elements(KvObject obj) =>
        obj.Siblings.SelectMany(s => s.AsString().Split(',', StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        Requests.FinalReadAsync(kv, history, Enumerable.Range(0, Keys).Select(k => "set" + k.ToString(CultureInfo.InvariantCulture)), Elements, ct);

    public CheckResult Check(IReadOnlyList<Op> history) => SetChecker.Check(history);
}
