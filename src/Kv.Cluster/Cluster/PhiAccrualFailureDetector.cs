namespace Kv.Cluster.Cluster;

/// <summary>
/// Akka's phi accrual failure detector for one monitored node. phi = -log10(1 - F(t)) where F is
/// the normal CDF (logistic approximation) of the time since the last heartbeat, given the mean
/// and deviation of past intervals plus the acceptable pause. Available while phi &lt; threshold.
/// </summary>
public sealed class PhiAccrualFailureDetector
{
    private readonly double _threshold;
    private readonly int _maxSamples;
    private readonly double _minStdDevMs;
    private readonly double _acceptablePauseMs;
    private readonly Func<long> _nowMs;
    private readonly Queue<double> _intervals = new();
    private double _sum;
    private double _squaredSum;
    private long _last = -1;

    public PhiAccrualFailureDetector(double threshold, int maxSampleSize, TimeSpan minStdDeviation, TimeSpan acceptableHeartbeatPause, TimeSpan firstHeartbeatEstimate, Func<long> nowMs)
    {
        _threshold = threshold;
        _maxSamples = maxSampleSize;
        _minStdDevMs = minStdDeviation.TotalMilliseconds;
        _acceptablePauseMs = acceptableHeartbeatPause.TotalMilliseconds;
        _nowMs = nowMs;
        // Akka seeds the history with two samples around the expected interval.
        double mean = firstHeartbeatEstimate.TotalMilliseconds;
        double dev = mean / 4;
        Record(mean - dev);
        Record(mean + dev);
    }

    /// <summary>True once at least one heartbeat arrived.</summary>
    public bool IsMonitoring => _last >= 0;

    /// <summary>Records a heartbeat (the first one only starts the clock).</summary>
    public void Heartbeat()
    {
        long now = _nowMs();
        if (_last >= 0)
        {
            double interval = now - _last;
            // Do not learn the gap of an outage as a normal interval.
            if (IsAvailable(now))
                Record(interval);
        }
        _last = now;
    }

    private void Record(double interval)
    {
        if (_intervals.Count >= _maxSamples)
        {
            double old = _intervals.Dequeue();
            _sum -= old;
            _squaredSum -= old * old;
        }
        _intervals.Enqueue(interval);
        _sum += interval;
        _squaredSum += interval * interval;
    }

    public double Phi() => Phi(_nowMs());

    private double Phi(long now)
    {
        if (_last < 0)
            return 0;
        double t = now - _last;
        double mean = _sum / _intervals.Count;
        double variance = Math.Max(0, _squaredSum / _intervals.Count - mean * mean);
        double stdDev = Math.Max(Math.Sqrt(variance), _minStdDevMs);
        return PhiOf(t, mean + _acceptablePauseMs, stdDev);
    }

    /// <summary>The formula, exposed for tests.</summary>
    public static double PhiOf(double timeDiff, double mean, double stdDev)
    {
        double y = (timeDiff - mean) / stdDev;
        double e = Math.Exp(-y * (1.5976 + 0.070566 * y * y));
        return timeDiff > mean ? -Math.Log10(e / (1.0 + e)) : -Math.Log10(1.0 - 1.0 / (1.0 + e));
    }

    public bool IsAvailable() => IsAvailable(_nowMs());

    private bool IsAvailable(long now) => Phi(now) < _threshold;
}
