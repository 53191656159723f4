using System.Globalization;
using Kv.Chaos.Linearizability;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Clients increment (by 1..5, 7 in 10 operations) and read a few shared counters in the
/// consistent namespace (a decimal value; absent reads as 0). Each increment returns the new
/// value, so the history pins every acknowledged increment's place; none is retried. Checked for
/// linearizability against a counter model (<see cref="LinearizableCheck"/>): a lost or doubled
/// increment, or a read going backwards, is not linearizable.
/// </summary>
public sealed class ConsistentCounterWorkload(TimeSpan? budget = null) : IWorkload
{
    public const int Keys = 3;

    public string Name => "consistent-counter";

    public static string KeyName(int k) => "ctr" + k.ToString(CultureInfo.InvariantCulture);

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        while (await pacer.NextAsync(stop).ConfigureAwait(false))
        {
            string key = KeyName(random.Next(Keys));
            if (random.Next(10) < 7)
                await ConsistentRequests.IncrementAsync(history, name, kv, key, random.Next(1, 6)).ConfigureAwait(false);
            else
                await ConsistentRequests.ReadAsync(history, name, "read", kv, key).ConfigureAwait(false);
        }
    }

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        ConsistentRequests.FinalReadAsync(kv, history, Enumerable.Range(0, Keys).Select(KeyName), ct);

    public string? NodeConfig => ConsistentRequests.NodeConfig;

    public CheckResult Check(IReadOnlyList<Op> history) => LinearizableCheck.Check(history, CounterModel.Instance, budget ?? LinearizableCheck.DefaultBudget);
}
