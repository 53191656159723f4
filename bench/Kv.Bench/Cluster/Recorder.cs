using System.Diagnostics;
using System.Globalization;
using Kv.Client;

namespace Kv.Bench.Cluster;

/// <summary>
/// One operation type's latencies, failures and completion times, reported in YCSB's format; a
/// failure is the store's error or an HTTP error (anything else is a bug and is thrown).
/// An operation given an intended start time (a paced run, --target) has its latency counted from
/// that time, not from when it was sent, so a caller that falls behind its schedule is charged the
/// wait (no coordinated omission, YCSB's measurement.interval=intended); the time from the send
/// (the service time) is kept beside it.
/// </summary>
internal sealed class Recorder(string name)
{
    private readonly List<long> _micros = [];
    private readonly List<long> _serviceMicros = [];
    private readonly List<long> _lateMicros = [];
    private readonly Dictionary<string, long> _errors = [];
    private readonly Lock _lock = new();
    private readonly List<long> _ends = [];
    private int _intervalStart;
    private bool _paced;

    public string Name => name;

    /// <summary>Operations that succeeded.</summary>
    public long Count { get; private set; }

    public long Failures { get; private set; }

    /// <summary>Successes so far, failures so far, and the latencies recorded since the last call.</summary>
    public (long Count, long Failures, long[] Latencies) TakeInterval()
    {
        lock (_lock)
        {
            var slice = _micros.GetRange(_intervalStart, _micros.Count - _intervalStart).ToArray();
            _intervalStart = _micros.Count;
            return (Count, Failures, slice);
        }
    }

    /// <summary>
    /// Runs <paramref name="op"/> and records it. <paramref name="intendedStart"/> is the
    /// <see cref="Stopwatch"/> timestamp the schedule meant it to start at (0: not paced, latency
    /// from the send). Returns the operation's result, or default when it failed.
    /// </summary>
    public async Task<(bool Ok, T? Result)> Time<T>(Func<Task<T>> op, long intendedStart = 0)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            T result = await op().ConfigureAwait(false);
            long end = Stopwatch.GetTimestamp();
            long service = (long)Stopwatch.GetElapsedTime(start, end).TotalMicroseconds;
            long us = intendedStart > 0 ? (long)Stopwatch.GetElapsedTime(Math.Min(intendedStart, start), end).TotalMicroseconds : service;
            lock (_lock)
            {
                _micros.Add(us);
                _serviceMicros.Add(service);
                if (intendedStart > 0)
                    _lateMicros.Add((long)Stopwatch.GetElapsedTime(Math.Min(intendedStart, start), start).TotalMicroseconds);
                _ends.Add(end);
                Count++;
                _paced |= intendedStart > 0;
            }
            return (true, result);
        }
        catch (Exception e) when (e is KvException or HttpRequestException)
        {
            lock (_lock)
            {
                Failures++;
                string kind = e.GetType().Name;
                _errors[kind] = _errors.GetValueOrDefault(kind) + 1;
            }
            return (false, default);
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
        long P(long[] s, double q) => s.Length == 0 ? 0 : s[Math.Min(s.Length - 1, (int)(q * s.Length))];
        Console.WriteLine($"[{name}], Operations, {Count}");
        Console.WriteLine($"[{name}], AverageLatency(us), {(sorted.Length == 0 ? 0 : sorted.Average()).ToString("0.0", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"[{name}], MinLatency(us), {P(sorted, 0)}");
        Console.WriteLine($"[{name}], MaxLatency(us), {(sorted.Length == 0 ? 0 : sorted[^1])}");
        Console.WriteLine($"[{name}], 50thPercentileLatency(us), {P(sorted, 0.50)}");
        Console.WriteLine($"[{name}], 95thPercentileLatency(us), {P(sorted, 0.95)}");
        Console.WriteLine($"[{name}], 99thPercentileLatency(us), {P(sorted, 0.99)}");
        Console.WriteLine($"[{name}], 99.9PercentileLatency(us), {P(sorted, 0.999)}");
        if (_paced)
        {
            // The latencies above count from the intended start; these from the send, and how late
            // the send was (the caller behind its schedule, or its timer waking late).
            var service = _serviceMicros.ToArray();
            Array.Sort(service);
            var late = _lateMicros.ToArray();
            Array.Sort(late);
            Console.WriteLine($"[{name}], Service50thPercentileLatency(us), {P(service, 0.50)}");
            Console.WriteLine($"[{name}], Service99thPercentileLatency(us), {P(service, 0.99)}");
            Console.WriteLine($"[{name}], SendLateness50th(us), {P(late, 0.50)}");
            Console.WriteLine($"[{name}], SendLateness99th(us), {P(late, 0.99)}");
        }
        Console.WriteLine($"[{name}], Return=OK, {Count}");
        Console.WriteLine($"[{name}], Return=FAILED, {Failures}");
        foreach (var (kind, n) in _errors)
            Console.WriteLine($"[{name}-FAILED], {kind}, {n}");
    }
}
