using System.Globalization;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Values with short TTLs: all clients share a few keys; each step either writes a new unique value
/// with a TTL of 1..3 s (blind, or with the context of the client's last read of the key), or
/// reads the key (a get at R=2, or an exists). The TTL is in the value
/// (<c>KEY-cN-wM-ttlMS</c>) so the checker needs nothing else. <see cref="TtlChecker"/> judges it:
/// no read may return a value whose expiry had certainly passed.
/// </summary>
public sealed class TtlWorkload(Kv.Actors.Coordinators.RequestOptions? write = null) : IWorkload
{
    private readonly Kv.Actors.Coordinators.RequestOptions _write = write ?? Requests.Write;

    public const int Keys = 4;

    public const string ExistsKind = "exists";

    public string Name => "ttl";

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        var contexts = new CausalContext?[Keys];
        int written = 0;
        while (true)
        {
            if (!await pacer.NextAsync(stop).ConfigureAwait(false))
                return;
            int k = random.Next(Keys);
            string key = $"t{k}";
            int dice = random.Next(10);
            if (dice < 4)
            {
                int ttlMs = random.Next(1000, 3001);
                string value = $"{key}-{name}-w{++written}-ttl{ttlMs}";
                var context = random.Next(2) == 0 ? contexts[k] : null;
                await Requests.WriteAsync(history, name, "put", key, value,
                    () => kv.PutAsync(Requests.Namespace, key, value, TimeSpan.FromMilliseconds(ttlMs), context, _write)).ConfigureAwait(false);
            }
            else if (dice < 8)
            {
                var obj = await Requests.ReadAsync(history, name, kv, key, Requests.Siblings).ConfigureAwait(false);
                if (obj is not null)
                    contexts[k] = obj.Context;
            }
            else
            {
                await ExistsAsync(history, name, kv, key).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Records an exists: ok with ["yes"] or [] (no), or fail.</summary>
    private static async Task ExistsAsync(History history, string client, KvClient kv, string key)
    {
        double invoke = history.Now;
        try
        {
            bool exists = await kv.ExistsAsync(Requests.Namespace, key, Requests.Read).ConfigureAwait(false);
            history.Add(new Op(client, ExistsKind, key, null, exists ? ["yes"] : [], invoke, history.Now, Outcome.Ok));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            history.Add(new Op(client, ExistsKind, key, null, null, invoke, history.Now, Outcome.Fail, Outcomes.Describe(e)));
        }
    }

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        Requests.FinalReadAsync(kv, history, Enumerable.Range(0, Keys).Select(k => $"t{k}"), Requests.Siblings, ct);

    public CheckResult Check(IReadOnlyList<Op> history) => TtlChecker.Check(history);
}
