namespace Kv.Chaos.Nemeses;

/// <summary>
/// Alternates healthy gaps and faults until the workload ends: wait, start a fault from a nemesis
/// picked at random (each once per round of all of them), let it last, heal it; one fault at a time. Every start and heal goes into the
/// history as a nemesis operation.
/// </summary>
public sealed class NemesisSchedule(IReadOnlyList<INemesis> nemeses, CampaignOptions options, Random random, History history, TextWriter log)
{
    private static readonly TimeSpan FirstGap = TimeSpan.FromSeconds(2);

    public async Task RunAsync(CancellationToken stop)
    {
        var gap = FirstGap;
        var used = new HashSet<INemesis>();
        while (!stop.IsCancellationRequested)
        {
            if (!await DelayAsync(gap, stop).ConfigureAwait(false))
                return;
            // In rounds: each nemesis once per round, in random order, those whose heal waits for
            // a node to rejoin (kill, churn, wipe: 30 s and more) after the quick ones, so a short
            // campaign with several nemeses sees each of them.
            if (used.Count == nemeses.Count)
                used.Clear();
            var left = nemeses.Where(n => !used.Contains(n)).ToList();
            var quick = left.Where(n => n.Name is "pause" or "partition").ToList();
            var pool = quick.Count > 0 ? quick : left;
            var nemesis = pool[random.Next(pool.Count)];
            used.Add(nemesis);
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
