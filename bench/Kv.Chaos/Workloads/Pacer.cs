namespace Kv.Chaos.Workloads;

/// <summary>Paces one client to a rate: waits until the next operation is due, without bursts to catch up.</summary>
public sealed class Pacer(double opsPerSecond)
{
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(1 / Math.Max(opsPerSecond, 0.01));
    private DateTime _next = DateTime.UtcNow;

    /// <summary>Waits for the next slot: true when it came, false when <paramref name="stop"/> fired first.</summary>
    public async Task<bool> NextAsync(CancellationToken stop)
    {
        if (stop.IsCancellationRequested)
            return false;
        var now = DateTime.UtcNow;
        if (_next > now)
        {
            try
            {
                await Task.Delay(_next - now, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        _next = (_next > now ? _next : now) + _interval;
        return true;
    }
}
