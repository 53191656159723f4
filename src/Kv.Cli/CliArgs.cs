using System.Globalization;

namespace Kv.Cli;

/// <summary>Positional arguments plus `--name value` / `--name=value` / `--flag` options.</summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags;

    private CliArgs(HashSet<string> flags) => _flags = flags;

    public List<string> Positional { get; } = [];

    /// <summary>Parses <paramref name="args"/>; names in <paramref name="flags"/> take no value.</summary>
    public static CliArgs Parse(IEnumerable<string> args, params string[] flags)
    {
        var a = new CliArgs(new HashSet<string>(flags, StringComparer.Ordinal));
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string arg = list[i];
            if (arg == "--")
            {
                a.Positional.AddRange(list.Skip(i + 1));
                break;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                a.Positional.Add(arg);
                continue;
            }
            string name = arg[2..];
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                a._options[name[..eq]] = name[(eq + 1)..];
            }
            else if (a._flags.Contains(name))
            {
                a._options[name] = null;
            }
            else if (i + 1 < list.Count)
            {
                a._options[name] = list[++i];
            }
            else
            {
                throw new CliException($"option --{name} needs a value");
            }
        }
        return a;
    }

    public string? Option(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out string? v) ? v : null;
    }

    public string Required(string name) =>
        Option(name) ?? throw new CliException($"missing required option --{name}");

    public bool Flag(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public long? Long(string name)
    {
        string? v = Option(name);
        if (v is null)
        {
            return null;
        }
        return long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n >= 0
            ? n
            : throw new CliException($"--{name} needs a non-negative whole number, not '{v}'");
    }

    /// <summary>Fails on options nobody read and on surplus positional arguments.</summary>
    public void Done(int maxPositional)
    {
        foreach (string name in _options.Keys)
        {
            if (!_used.Contains(name))
            {
                throw new CliException($"unknown option --{name}");
            }
        }
        if (Positional.Count > maxPositional)
        {
            throw new CliException($"unexpected argument '{Positional[maxPositional]}'");
        }
    }
}
