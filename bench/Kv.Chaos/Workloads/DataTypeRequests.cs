using Kv.Client;

namespace Kv.Chaos.Workloads;

/// <summary>The data type workloads' namespaces (declared in every campaign node's config) and their final read phase.</summary>
public static class DataTypeRequests
{
    public const string Counters = "counters";
    public const string Sets = "sets";

    /// <summary>
    /// As <see cref="Requests.FinalReadAsync"/>, by <paramref name="read"/> (in a data type namespace): each key read
    /// at R=2, retried until <see cref="Requests.FinalReadBudget"/> has passed; one final-read op per
    /// key with what <paramref name="read"/> returned.
    /// </summary>
    public static async Task FinalReadAsync(History history, IEnumerable<string> keys, Func<string, Task<IReadOnlyList<string>>> read, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(8);
        var reads = keys.Distinct(StringComparer.Ordinal).Select(async key =>
        {
            await gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                var deadline = DateTime.UtcNow + Requests.FinalReadBudget;
                while (true)
                {
                    double invoke = history.Now;
                    string error;
                    try
                    {
                        var values = await read(key).ConfigureAwait(false);
                        history.Add(new Op(Op.FinalClient, Op.FinalRead, key, null, values, invoke, history.Now, Outcome.Ok));
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
}
