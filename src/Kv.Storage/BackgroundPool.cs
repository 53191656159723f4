using System.Collections.Concurrent;

namespace Kv.Storage;

/// <summary>
/// A fixed set of dedicated threads running background jobs (flushes or compactions) for every
/// engine of an environment. The queue is bounded in practice: each engine keeps at most one job
/// of each kind queued.
/// </summary>
internal sealed class BackgroundPool : IDisposable
{
    private readonly BlockingCollection<Action> _jobs = new(new ConcurrentQueue<Action>());
    private readonly Thread[] _threads;

    public BackgroundPool(string name, int threads)
    {
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"{name}-{i}" };
            _threads[i].Start();
        }
    }

    public int ThreadCount => _threads.Length;

    public void Schedule(Action job) => _jobs.Add(job);

    private void Run()
    {
        foreach (Action job in _jobs.GetConsumingEnumerable())
        {
            job(); // jobs catch their own exceptions and record them on their engine
        }
    }

    public void Dispose()
    {
        _jobs.CompleteAdding();
        foreach (Thread t in _threads)
        {
            t.Join();
        }
        _jobs.Dispose();
    }
}
