using System.Globalization;

namespace Kv.Actors;

/// <summary>
/// HOCON's duration and size formats: a number, optional spaces, a unit. Durations: ns, us, ms,
/// s, m, h, d and their long names (a bare number is milliseconds). Sizes: B, K/Ki/KiB (1024),
/// kB (1000), M/Mi/MiB, MB, G/Gi/GiB, GB, T/Ti/TiB, TB and long names (a bare number is bytes).
/// </summary>
public static class Units
{
    private static readonly Dictionary<string, double> DurationUnits = Table(
        (1e-6, ["ns", "nano", "nanos", "nanosecond", "nanoseconds"]),
        (1e-3, ["us", "micro", "micros", "microsecond", "microseconds"]),
        (1, ["", "ms", "milli", "millis", "millisecond", "milliseconds"]),
        (1e3, ["s", "second", "seconds"]),
        (60e3, ["m", "minute", "minutes"]),
        (3600e3, ["h", "hour", "hours"]),
        (86400e3, ["d", "day", "days"]));

    private static readonly Dictionary<string, double> SizeUnits = Table(
        (1, ["", "b", "B", "byte", "bytes"]),
        (1e3, ["kB", "kilobyte", "kilobytes"]),
        (1e6, ["MB", "megabyte", "megabytes"]),
        (1e9, ["GB", "gigabyte", "gigabytes"]),
        (1e12, ["TB", "terabyte", "terabytes"]),
        (1024, ["K", "k", "Ki", "KiB", "kibibyte", "kibibytes"]),
        (1024 * 1024, ["M", "m", "Mi", "MiB", "mebibyte", "mebibytes"]),
        (1024.0 * 1024 * 1024, ["G", "g", "Gi", "GiB", "gibibyte", "gibibytes"]),
        (1024.0 * 1024 * 1024 * 1024, ["T", "t", "Ti", "TiB", "tebibyte", "tebibytes"]));

    private static Dictionary<string, double> Table(params (double Factor, string[] Names)[] rows)
    {
        var d = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (factor, names) in rows)
        {
            foreach (string n in names)
                d[n] = factor;
        }
        return d;
    }

    /// <summary>Parses a duration such as <c>5s</c>, <c>250 ms</c>, <c>2 minutes</c>.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        if (!Split(text, DurationUnits, out double ms) || ms > TimeSpan.MaxValue.TotalMilliseconds)
            return false;
        value = TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
        return true;
    }

    /// <summary>Parses a size such as <c>64MiB</c>, <c>1 GB</c>, <c>4096</c>.</summary>
    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        if (!Split(text, SizeUnits, out double b) || b > long.MaxValue || b != Math.Floor(b))
            return false;
        bytes = (long)b;
        return true;
    }

    private static bool Split(string text, Dictionary<string, double> units, out double result)
    {
        result = 0;
        string s = text.Trim();
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] is '.' or '-' or '+' or 'e' or 'E') && !(s[i] is 'e' or 'E' && (i == 0 || !char.IsAsciiDigit(s[i - 1]) || i + 1 >= s.Length || !char.IsAsciiDigit(s[i + 1]))))
            i++;
        if (i == 0 || !double.TryParse(s[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || number < 0)
            return false;
        if (!units.TryGetValue(s[i..].Trim(), out double factor))
            return false;
        result = number * factor;
        return true;
    }
}
