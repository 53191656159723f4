namespace Kv.Chaos.Workloads;

/// <summary>Paces one client to a rate: waits until the next operation is due, without bursts to catch up.</summary>
public sealed class Pacer(double opsPerSecond)
{
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(1 / Math.Max(opsPerSecond, 0.01));
    private DateTime _next = DateTime.UtcNow;

    /// <summary>Waits for the next slot; throws <see cref="OperationCanceledException"/> when <paramref name="stop"/> fires.</summary>
    public async Task WaitAsync(CancellationToken stop)
    {
        stop.ThrowIfCancellationRequested();
        var now = DateTime.UtcNow;
        if (_next > now)
            await Task.Delay(_next - now, stop).ConfigureAwait(false);
        _next = (_next > now ? _next : now) + _interval;
    }
}
