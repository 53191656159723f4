using Kv.Actors.Coordinators;
using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>The quorums and timeouts every workload uses, and the final read phase they share.</summary>
public static class Requests
{
    public const string Namespace = "default";

    /// <summary>Coordinator timeout of every request (the client gives each node a little longer).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public static readonly RequestOptions Write = new() { W = 2, DW = 2, Timeout = Timeout };

    public static readonly RequestOptions Read = new() { R = 2, Timeout = Timeout };

    /// <summary>How long the final phase keeps retrying a read that fails.</summary>
    public static readonly TimeSpan FinalReadBudget = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Reads every key at R=2 (a few at a time), retrying failures until <see cref="FinalReadBudget"/>
    /// has passed for that key, and records one final-read op per key: ok with what it saw, or fail.
    /// </summary>
    public static async Task FinalReadAsync(KvClient kv, History history, IEnumerable<string> keys, Func<KvObject, IReadOnlyList<string>> valuesOf, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(8);
        var reads = keys.Distinct(StringComparer.Ordinal).Select(async key =>
        {
            await gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                var deadline = DateTime.UtcNow + FinalReadBudget;
                string? error = null;
                while (true)
                {
                    double invoke = history.Now;
                    try
                    {
                        var obj = await kv.GetAsync(Namespace, key, Read).ConfigureAwait(false);
                        history.Add(new Op(Op.FinalClient, Op.FinalRead, key, null, obj.Found ? valuesOf(obj) : [], invoke, history.Now, Outcome.Ok));
                        return;
                    }
                    catch (Exception e) when (e is KvException or Akka.Actor.AskTimeoutException)
                    {
                        error = Outcomes.Describe(e);
                    }
                    if (DateTime.UtcNow > deadline)
                    {
                        history.Add(new Op(Op.FinalClient, Op.FinalRead, key, null, null, invoke, history.Now, Outcome.Fail, error));
                        return;
                    }
                    await Task.Delay(500, ct).ConfigureAwait(false);
                }
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(reads).ConfigureAwait(false);
    }

    /// <summary>The values of an object's siblings, as strings.</summary>
    public static IReadOnlyList<string> Siblings(KvObject obj) => obj.Siblings.Select(s => s.AsString()).ToList();

    /// <summary>Records a write: ok, or fail/info by <see cref="Outcomes.OfWriteError"/>.</summary>
    public static async Task<Outcome> WriteAsync(History history, string client, string kind, string key, string? value, Func<Task> write)
    {
        double invoke = history.Now;
        try
        {
            await write().ConfigureAwait(false);
            history.Add(new Op(client, kind, key, value, null, invoke, history.Now, Outcome.Ok));
            return Outcome.Ok;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var outcome = Outcomes.OfWriteError(e);
            history.Add(new Op(client, kind, key, value, null, invoke, history.Now, outcome, Outcomes.Describe(e)));
            return outcome;
        }
    }

    /// <summary>Records a read: ok with what <paramref name="valuesOf"/> makes of it, or fail; returns the object or null.</summary>
    public static async Task<KvObject?> ReadAsync(History history, string client, KvClient kv, string key, Func<KvObject, IReadOnlyList<string>> valuesOf)
    {
        double invoke = history.Now;
        try
        {
            var obj = await kv.GetAsync(Namespace, key, Read).ConfigureAwait(false);
            history.Add(new Op(client, "read", key, null, obj.Found ? valuesOf(obj) : [], invoke, history.Now, Outcome.Ok));
            return obj;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            history.Add(new Op(client, "read", key, null, null, invoke, history.Now, Outcome.Fail, Outcomes.Describe(e)));
            return null;
        }
    }
}
