using System.Diagnostics;
using System.Globalization;
using Kv.Client;

namespace Kv.Bench.Cluster;

/// <summary>
/// One operation type's latencies, failures and completion times, reported in YCSB's format; a
/// failure is the store's error or an HTTP error (anything else is a bug and is thrown).
/// </summary>
internal sealed class Recorder(string name)
{
    private readonly List<long> _micros = [];
    private readonly Dictionary<string, long> _errors = [];
    private readonly Lock _lock = new();
    private readonly List<long> _ends = [];
    private int _intervalStart;

    public string Name => name;

    public long Count { get; private set; }

    /// <summary>Operations so far (ok and failed), and the latencies recorded since the last call.</summary>
    public (long Count, long[] Latencies) TakeInterval()
    {
        lock (_lock)
        {
            var slice = _micros.GetRange(_intervalStart, _micros.Count - _intervalStart).ToArray();
            _intervalStart = _micros.Count;
            return (Count + Failures, slice);
        }
    }

    public long Failures { get; private set; }

    public async Task Time<T>(Func<Task<T>> op)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await op().ConfigureAwait(false);
            long us = (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            lock (_lock)
            {
                _micros.Add(us);
                _ends.Add(Stopwatch.GetTimestamp());
                Count++;
            }
        }
        catch (Exception e) when (e is KvException or HttpRequestException)
        {
            lock (_lock)
            {
                Failures++;
                string kind = e.GetType().Name;
                _errors[kind] = _errors.GetValueOrDefault(kind) + 1;
            }
        }
    }

    public void WriteRaw(TextWriter w)
    {
        double usPerTick = 1e6 / Stopwatch.Frequency;
        for (int i = 0; i < _ends.Count; i++)
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name},{(long)(_ends[i] * usPerTick)},{_micros[i]}"));
    }

    public void Print()
    {
        var sorted = _micros.ToArray();
        Array.Sort(sorted);
        long P(double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine($"[{name}], Operations, {Count}");
        Console.WriteLine($"[{name}], AverageLatency(us), {(sorted.Length == 0 ? 0 : sorted.Average()).ToString("0.0", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"[{name}], MinLatency(us), {P(0)}");
        Console.WriteLine($"[{name}], MaxLatency(us), {(sorted.Length == 0 ? 0 : sorted[^1])}");
        Console.WriteLine($"[{name}], 50thPercentileLatency(us), {P(0.50)}");
        Console.WriteLine($"[{name}], 95thPercentileLatency(us), {P(0.95)}");
        Console.WriteLine($"[{name}], 99thPercentileLatency(us), {P(0.99)}");
        Console.WriteLine($"[{name}], 99.9PercentileLatency(us), {P(0.999)}");
        Console.WriteLine($"[{name}], Return=OK, {Count}");
        foreach (var (kind, n) in _errors)
            Console.WriteLine($"[{name}-FAILED], {kind}, {n}");
    }
}
