using System.Globalization;

namespace Kv.Bench;

/// <summary>`--name value` and `--flag` arguments.</summary>
public sealed class BenchArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public static BenchArgs Parse(string[] args)
    {
        var a = new BenchArgs();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{arg}'");
            }
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            a._values[name] = value;
        }
        return a;
    }

    public string String(string name, string fallback)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out string? v) && v is not null ? v : fallback;
    }

    public long Long(string name, long fallback)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out string? v) || v is null)
        {
            return fallback;
        }
        return long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n >= 0
            ? n
            : throw new ArgumentException($"--{name} needs a non-negative whole number, not '{v}'");
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out string? v))
        {
            return false;
        }
        return v is null or "1" or "true" ? true : v is "0" or "false" ? false : throw new ArgumentException($"--{name} takes true or false, not '{v}'");
    }

    /// <summary>Throws on any argument no one asked for (a typo must not be silently ignored).</summary>
    public void RejectUnknown()
    {
        foreach (string name in _values.Keys)
        {
            if (!_used.Contains(name))
            {
                throw new ArgumentException($"unknown option --{name}");
            }
        }
    }
}
