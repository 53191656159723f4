using System.Globalization;
using Kv.Chaos.Linearizability;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Clients read, write and compare-and-swap a few shared registers in the consistent namespace
/// (4 in 10 reads, 2 writes, 4 CASes from the value the client last saw, or from absent); every
/// written value is unique. No operation is retried. The history is checked for linearizability
/// against a register model (<see cref="LinearizableCheck"/>).
/// </summary>
public sealed class CasRegisterWorkload(TimeSpan? budget = null) : IWorkload
{
    public const int Keys = 3;

    public string Name => "cas-register";

    public static string KeyName(int k) => "reg" + k.ToString(CultureInfo.InvariantCulture);

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        var seen = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (int i = 0; await pacer.NextAsync(stop).ConfigureAwait(false); i++)
        {
            string key = KeyName(random.Next(Keys));
            string value = string.Create(CultureInfo.InvariantCulture, $"{name}-{i}");
            int roll = random.Next(10);
            if (roll < 4)
            {
                if (await ConsistentRequests.ReadAsync(history, name, "read", kv, key).ConfigureAwait(false) is { } values)
                    seen[key] = values.Count == 1 ? values[0] : null;
            }
            else if (roll < 6)
            {
                if (await ConsistentRequests.WriteAsync(history, name, kv, key, value).ConfigureAwait(false) == Outcome.Ok)
                    seen[key] = value;
            }
            else
            {
                string? expected = seen.GetValueOrDefault(key);
                if (await ConsistentRequests.CasAsync(history, name, kv, key, expected, value).ConfigureAwait(false) is { } result)
                    seen[key] = result.Current is null ? null : System.Text.Encoding.UTF8.GetString(result.Current);
            }
        }
    }

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        ConsistentRequests.FinalReadAsync(kv, history, Enumerable.Range(0, Keys).Select(KeyName), ct);

    public string? NodeConfig => ConsistentRequests.NodeConfig;

    public CheckResult Check(IReadOnlyList<Op> history) => LinearizableCheck.Check(history, RegisterModel.Instance, budget ?? LinearizableCheck.DefaultBudget);
}
