using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// A workload: what each client does during the campaign, the final read phase after healing,
/// and the checker that judges the whole history.
/// </summary>
public interface IWorkload
{
    string Name { get; }

    /// <summary>One client's loop, until <paramref name="stop"/> (ops in flight finish and are recorded).</summary>
    Task RunClientAsync(int client, KvClient kv, History history, Pacer pacer, Random random, CancellationToken stop);

    /// <summary>Reads back every key the history touched, at R=2, retrying failed reads for a while.</summary>
    Task FinalReadAsync(KvClient kv, History history, CancellationToken ct);

    CheckResult Check(IReadOnlyList<Op> history);

    /// <summary>Lines the campaign adds to every node's kv { } block for this workload (e.g. a namespace it needs), or null.</summary>
    string? NodeConfig => null;
}
