using System.Globalization;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Each client writes keys of its own, each once, with a value unique to it, at W=2 DW=2, and the
/// history remembers which writes were acknowledged. <see cref="RegisterChecker"/> judges it.
/// </summary>
public sealed class RegisterWorkload(Kv.Actors.Coordinators.RequestOptions? write = null) : IWorkload
{
    private readonly Kv.Actors.Coordinators.RequestOptions _write = write ?? Requests.Write;

    public string Name => "register";

    public async Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop)
    {
        string name = "c" + client.ToString(CultureInfo.InvariantCulture);
        for (int i = 0; ; i++)
        {
            if (!await pacer.NextAsync(stop).ConfigureAwait(false))
                return;
            string key = $"r{client}-{i}";
            string value = $"v{client}-{i}-{random.Next(1_000_000):D6}";
            await Requests.WriteAsync(history, name, "write", key, value,
                () => kv.PutAsync(Requests.Namespace, key, value, null, _write)).ConfigureAwait(false);
        }
    }

    public Task FinalReadAsync(KvClient kv, History history, CancellationToken ct) =>
        Requests.FinalReadAsync(kv, history, history.Snapshot().Where(o => o.Kind == "write").Select(o => o.Key), Requests.Siblings, ct);

    public CheckResult Check(IReadOnlyList<Op> history) => RegisterChecker.Check(history);
}
