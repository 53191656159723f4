using System.Globalization;
using System.Text;
using Kv.Actors.Coordinators;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>
/// Requests on the campaign's consistent namespace (kv.namespaces.consistent.consistent = on, where
/// every operation is linearizable), recorded for the linearizability checker: a failed read is
/// fail (it changed nothing); a failed update is fail or info by <see cref="Outcomes.OfConsistentError"/>.
/// </summary>
public static class ConsistentRequests
{
    /// <summary>The namespace the consistent workloads use.</summary>
    public const string Namespace = "consistent";

    /// <summary>What the campaign adds to every node's kv { } block for the consistent workloads.</summary>
    public const string NodeConfig = "namespaces.consistent.consistent = on";

    /// <summary>Every consistent request: the coordinator's timeout (quorums are the namespace's majority).</summary>
    public static readonly RequestOptions Options = new() { Timeout = Requests.Timeout };

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>The value a read saw: empty when absent, else every sibling (a consistent namespace has at most one).</summary>
    private static IReadOnlyList<string> Values(KvObject obj) => obj.Found ? Requests.Siblings(obj) : [];

    /// <summary>Reads <paramref name="key"/>; records it; returns what it saw (null when the read failed).</summary>
    public static async Task<IReadOnlyList<string>?> ReadAsync(History history, string client, string kind, KvClient kv, string key)
    {
        double invoke = history.Now;
        try
        {
            var values = Values(await kv.GetAsync(Namespace, key, Options).ConfigureAwait(false));
            history.Add(new Op(client, kind, key, null, values, invoke, history.Now, Outcome.Ok));
            return values;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            history.Add(new Op(client, kind, key, null, null, invoke, history.Now, Outcome.Fail, Outcomes.Describe(e)));
            return null;
        }
    }

    /// <summary>Writes <paramref name="value"/>; records it.</summary>
    public static async Task<Outcome> WriteAsync(History history, string client, KvClient kv, string key, string value)
    {
        double invoke = history.Now;
        try
        {
            await kv.PutAsync(Namespace, key, value, null, Options).ConfigureAwait(false);
            history.Add(new Op(client, "write", key, value, null, invoke, history.Now, Outcome.Ok));
            return Outcome.Ok;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var outcome = Outcomes.OfConsistentError(e);
            history.Add(new Op(client, "write", key, value, null, invoke, history.Now, outcome, Outcomes.Describe(e)));
            return outcome;
        }
    }

    /// <summary>Compare-and-swap from <paramref name="expected"/> (null: absent) to <paramref name="value"/>; records it; returns the result (null when it failed).</summary>
    public static async Task<CasResult?> CasAsync(History history, string client, KvClient kv, string key, string? expected, string value)
    {
        double invoke = history.Now;
        try
        {
            var result = await kv.CompareAndSwapAsync(Namespace, key, expected is null ? null : Bytes(expected), Bytes(value), Options).ConfigureAwait(false);
            IReadOnlyList<string> current = result.Current is null ? [] : [Encoding.UTF8.GetString(result.Current)];
            history.Add(new Op(client, "cas", key, value, current, invoke, history.Now, Outcome.Ok) { Expected = expected, Applied = result.Succeeded });
            return result;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            history.Add(new Op(client, "cas", key, value, null, invoke, history.Now, Outcomes.OfConsistentError(e), Outcomes.Describe(e)) { Expected = expected });
            return null;
        }
    }

    /// <summary>Adds <paramref name="by"/> to a counter; records it with the new value it returned.</summary>
    public static async Task IncrementAsync(History history, string client, KvClient kv, string key, long by)
    {
        double invoke = history.Now;
        string amount = by.ToString(CultureInfo.InvariantCulture);
        try
        {
            long now = await kv.IncrementAsync(Namespace, key, by, Options).ConfigureAwait(false);
            history.Add(new Op(client, "incr", key, amount, [now.ToString(CultureInfo.InvariantCulture)], invoke, history.Now, Outcome.Ok));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            history.Add(new Op(client, "incr", key, amount, null, invoke, history.Now, Outcomes.OfConsistentError(e), Outcomes.Describe(e)));
        }
    }

    /// <summary>
    /// After healing: reads every key once (a linearizable read like the others, recorded as a
    /// final read and checked with them), retrying a failed read until <see cref="Requests.FinalReadBudget"/>.
    /// </summary>
    public static async Task FinalReadAsync(KvClient kv, History history, IEnumerable<string> keys, CancellationToken ct)
    {
        foreach (string key in keys)
        {
            var deadline = DateTime.UtcNow + Requests.FinalReadBudget;
            while (await ReadAsync(history, Op.FinalClient, Op.FinalRead, kv, key).ConfigureAwait(false) is null && DateTime.UtcNow < deadline)
                await Task.Delay(500, ct).ConfigureAwait(false);
        }
    }
}
