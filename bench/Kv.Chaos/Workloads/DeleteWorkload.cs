using System.Globalization;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Write, delete and re-create keys while the nemesis runs. Each client owns a few keys (so the
/// operations on a key are sequential); each step reads the key at R=2 and then, with the read's
/// causal context, deletes it if the client believes it exists, or writes a new value
/// (key-generation, unique) if not. <see cref="DeleteChecker"/> judges it.
/// </summary>
public sealed class DeleteWorkload(Kv.Actors.Coordinators.RequestOptions? write = null) : IWorkload
{
    private readonly Kv.Actors.Coordinators.RequestOptions _write = write ?? Requests.Write;

    public const int KeysPerClient = 8;

    public string Name => "delete";

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        var exists = new bool[KeysPerClient];
        var generation = new int[KeysPerClient];
        while (true)
        {
            if (!await pacer.NextAsync(stop).ConfigureAwait(false))
                return;
            int k = random.Next(KeysPerClient);
            string key = $"d{client}-{k}";
            var obj = await Requests.ReadAsync(history, name, kv, key, Requests.Siblings).ConfigureAwait(false);
            if (obj is null)
                continue;
            Outcome outcome;
            if (exists[k])
            {
                outcome = await Requests.WriteAsync(history, name, "delete", key, null,
                    () => kv.DeleteAsync(Requests.Namespace, key, obj.Context, _write)).ConfigureAwait(false);
            }
            else
            {
                string value = $"{key}-g{++generation[k]}";
                outcome = await Requests.WriteAsync(history, name, "put", key, value,
                    () => kv.PutAsync(Requests.Namespace, key, value, obj.Context, _write)).ConfigureAwait(false);
            }
            if (outcome != Outcome.Fail)
                exists[k] = !exists[k];
        }
    }

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        Requests.FinalReadAsync(kv, history, history.Snapshot().Where(o => o.Kind is "put" or "delete").Select(o => o.Key), Requests.Siblings, ct);

    public CheckResult Check(IReadOnlyList<Op> history) => DeleteChecker.Check(history);
}
