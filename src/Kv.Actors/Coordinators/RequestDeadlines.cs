namespace Kv.Actors.Coordinators;

/// <summary>A request that ends by itself or, at its deadline, by <see cref="RequestDeadlines"/>.</summary>
public interface IExpiring
{
    /// <summary>True once the request ended (answered or expired): the sweep drops it.</summary>
    bool Ended { get; }

    /// <summary>When it expires, in <see cref="Environment.TickCount64"/> milliseconds.</summary>
    long Deadline { get; }

    /// <summary>Called once its deadline passed, if it had not ended; called on a timer thread.</summary>
    void Expire();
}

/// <summary>
/// Deadlines of per-request refs (<see cref="LocalRead"/>, <see cref="LocalWrite"/>, the client's
/// reply refs) without a scheduled timer each. A scheduler entry per request stays in its wheel
/// until its due time even when cancelled, and with it the request's whole graph (quorum state,
/// values, reply): at tens of thousands of requests a second, seconds of finished requests stayed
/// alive, and every gen0 collection promoted them (a one-node SET load spent a sixth of its time in
/// those pauses). Here a request is held until the next sweep after it ended, a few times a second.
/// </summary>
public static class RequestDeadlines
{
    /// <summary>How often the waiting requests are looked at: a deadline fires up to this late.</summary>
    public static readonly TimeSpan SweepEvery = TimeSpan.FromMilliseconds(50);

    private static readonly Queue<IExpiring> Waiting = new();
    private static readonly Timer Sweeper = new(_ => Sweep(), null, SweepEvery, SweepEvery);

    /// <summary>Watches <paramref name="request"/> until it ends or its deadline passes.</summary>
    public static void Watch(IExpiring request)
    {
        lock (Waiting)
            Waiting.Enqueue(request);
        GC.KeepAlive(Sweeper);
    }

    // Drops the requests that ended, expires those past their deadline, keeps the rest in order.
    private static void Sweep()
    {
        long now = Environment.TickCount64;
        List<IExpiring>? late = null;
        lock (Waiting)
        {
            for (int n = Waiting.Count; n > 0; n--)
            {
                var r = Waiting.Dequeue();
                if (r.Ended)
                    continue;
                if (r.Deadline <= now)
                    (late ??= []).Add(r);
                else
                    Waiting.Enqueue(r);
            }
        }
        if (late is null)
            return;
        foreach (var r in late)
            r.Expire(); // (an expiry only tells the waiting party: it does not throw)
    }
}
