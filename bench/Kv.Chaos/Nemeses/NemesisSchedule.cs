namespace Kv.Chaos.Nemeses;

/// <summary>
/// Alternates healthy gaps and faults until the workload ends: wait, start a fault from a nemesis,
/// let it last, heal it; one fault at a time. The first faults take the nemeses in the order given
/// (each once, so a short campaign with several sees each of them as far as time allows: a kill's
/// heal waits up to 30 s for the node to rejoin, so list it last), then they are picked at random.
/// Every start and heal goes into the history as a nemesis operation.
/// </summary>
public sealed class NemesisSchedule(IReadOnlyList<INemesis> nemeses, CampaignOptions options, Random random, History history, TextWriter log)
{
    private static readonly TimeSpan FirstGap = TimeSpan.FromSeconds(2);

    public async Task RunAsync(CancellationToken stop)
    {
        var gap = FirstGap;
        int faults = 0;
        while (!stop.IsCancellationRequested)
        {
            if (!await DelayAsync(gap, stop).ConfigureAwait(false))
                return;
            int pick = random.Next(nemeses.Count); // drawn always: one nemesis alone sees the same schedule as before
            var nemesis = faults < nemeses.Count ? nemeses[faults] : nemeses[pick];
            faults++;
            await StepAsync(nemesis, "start", nemesis.StartAsync).ConfigureAwait(false);
            await DelayAsync(Between(options.FaultDuration), stop).ConfigureAwait(false);
            await StepAsync(nemesis, "heal", nemesis.HealAsync).ConfigureAwait(false);
            gap = Between(options.HealthyGap);
        }
    }

    /// <summary>Undoes whatever every nemesis left: restart killed nodes, resume paused ones, clear fault rules, let leaving nodes finish.</summary>
    public async Task HealAllAsync()
    {
        foreach (var nemesis in nemeses)
            await StepAsync(nemesis, "heal-all", nemesis.HealAllAsync).ConfigureAwait(false);
    }

    private async Task StepAsync(INemesis nemesis, string step, Func<CancellationToken, Task<string>> action)
    {
        double invoke = history.Now;
        try
        {
            string what = await action(CancellationToken.None).ConfigureAwait(false);
            history.Nemesis($"{step}-{nemesis.Name}", what, invoke, Outcome.Ok);
            log.WriteLine($"{TimeSpan.FromMilliseconds(invoke).TotalSeconds,6:0.0}s nemesis {step} {nemesis.Name}: {what}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            history.Nemesis($"{step}-{nemesis.Name}", "", invoke, Outcome.Fail, Outcomes.Describe(e));
            log.WriteLine($"nemesis {step} {nemesis.Name} failed: {e.Message}");
        }
    }

    private TimeSpan Between((TimeSpan Min, TimeSpan Max) range) =>
        range.Min + TimeSpan.FromMilliseconds(random.NextDouble() * (range.Max - range.Min).TotalMilliseconds);

    /// <summary>False when <paramref name="stop"/> fired first.</summary>
    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
