using System.Globalization;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Kv.Actors;

namespace Kv.Node;

/// <summary>
/// The effective settings under <c>kv.</c>, checked against reference.conf: every key must be
/// one that reference.conf declares (a namespace may set any property `default` has); values are
/// read with a type and a range, and anything wrong is a <see cref="ConfigException"/> naming the
/// setting. Keys compare case-insensitively, and '_' matches '-' (so environment variables can
/// name any setting).
/// </summary>
public sealed class SettingsReader
{
    private readonly Dictionary<string, string?> _values;

    private SettingsReader(Dictionary<string, string?> values) => _values = values;

    /// <summary>
    /// The effective <c>kv.*</c> values: <paramref name="config"/> (a file over reference.conf, read by
    /// Akka's HOCON), then <paramref name="overrides"/> in order (environment variables, flags; keys
    /// like kv.remote.port), every key checked against <paramref name="reference"/>.
    /// </summary>
    public static SettingsReader From(Config config, Config reference, params IEnumerable<IEnumerable<KeyValuePair<string, string?>>> overrides)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (config.HasPath("kv"))
            Flatten(config.GetValue("kv"), "kv", values);
        foreach (var layer in overrides)
        {
            foreach (var (key, value) in layer)
            {
                string name = Normalize(key);
                // A list set from outside replaces the whole list.
                foreach (string old in values.Keys.Where(k => k.StartsWith(name + ".", StringComparison.Ordinal) && k[(name.Length + 1)..].All(char.IsAsciiDigit)).ToList())
                    values.Remove(old);
                values[name] = value;
            }
        }
        var known = new Known(reference);
        foreach (string key in values.Keys)
            known.Check(key);
        return new SettingsReader(values);
    }

    /// <summary>Leaves as dotted keys; a list's items as key.0, key.1, ...</summary>
    internal static void Flatten(HoconValue value, string path, Dictionary<string, string?> into)
    {
        if (value.IsObject())
        {
            foreach (var (k, v) in value.GetObject().Items)
                Flatten(v, path + "." + k, into);
        }
        else if (value.IsArray())
        {
            var items = value.GetArray();
            for (int i = 0; i < items.Count; i++)
                into[path + "." + i.ToString(CultureInfo.InvariantCulture)] = items[i].GetString();
            if (items.Count == 0)
                into[path] = null; // an empty list: known as a list, no items
        }
        else
        {
            into[path] = value.IsEmpty ? null : value.GetString();
        }
    }

    /// <summary>
    /// kv__remote__port or kv.Remote.Port -> kv.remote.port ('_' -> '-' outside a namespace's own
    /// name, which keeps its case and underscores).
    /// </summary>
    internal static string Normalize(string key)
    {
        var parts = key.Replace("__", ".", StringComparison.Ordinal).Replace(':', '.').Split('.');
        for (int i = 0; i < parts.Length; i++)
        {
            bool namespaceName = i == 2 && parts[0].Equals("kv", StringComparison.OrdinalIgnoreCase) && parts[1].Equals("namespaces", StringComparison.OrdinalIgnoreCase);
            if (!namespaceName)
                parts[i] = parts[i].Replace('_', '-').ToLowerInvariant();
        }
        return string.Join('.', parts);
    }

    /// <summary>Names of the sub-objects directly under <paramref name="path"/> (e.g. the declared namespaces).</summary>
    public IReadOnlyList<string> Children(string path) =>
        _values.Keys.Where(k => k.StartsWith(path + ".", StringComparison.Ordinal))
            .Select(k => k[(path.Length + 1)..].Split('.')[0])
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();

    public bool Has(string key) => _values.ContainsKey(key);

    private string Raw(string key) =>
        _values.TryGetValue(key, out string? v) && v is not null ? v : throw new ConfigException($"{key}: expected a value (reference.conf gives every setting a default; was it set to nothing?)");

    private static ConfigException Bad(string key, string value, string expected) => new($"{key} = '{value}': {expected}");

    public string String(string key) => Raw(key);

    public int Int(string key, int min, int max) => (int)Long(key, min, max);

    public long Long(string key, long min, long max)
    {
        string v = Raw(key);
        if (!long.TryParse(v.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n))
            throw Bad(key, v, "expected a whole number");
        return n >= min && n <= max ? n : throw Bad(key, v, $"must be {min}..{max}");
    }

    public double Double(string key, double min, double max)
    {
        string v = Raw(key);
        if (!double.TryParse(v.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || double.IsNaN(d))
            throw Bad(key, v, "expected a number");
        return d >= min && d <= max ? d : throw Bad(key, v, $"must be {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
    }

    public bool Bool(string key)
    {
        string v = Raw(key);
        return v.Trim().ToLowerInvariant() switch
        {
            "true" or "on" or "yes" => true,
            "false" or "off" or "no" => false,
            _ => throw Bad(key, v, "expected on/off (true/false, yes/no)"),
        };
    }

    public TimeSpan Duration(string key, TimeSpan min, TimeSpan max)
    {
        string v = Raw(key);
        if (!Units.TryParseDuration(v, out var d))
            throw Bad(key, v, "expected a duration such as 500ms, 5s, 2m");
        return d >= min && d <= max ? d : throw Bad(key, v, $"must be {min}..{max}");
    }

    public long Size(string key, long min, long max)
    {
        string v = Raw(key);
        if (!Units.TryParseSize(v, out long b))
            throw Bad(key, v, "expected a size such as 4096, 64KiB, 16MiB, 1GB");
        return b >= min && b <= max ? b : throw Bad(key, v, $"must be {min}..{max} bytes");
    }

    public T Choice<T>(string key, IReadOnlyDictionary<string, T> choices)
    {
        string v = Raw(key);
        return choices.TryGetValue(v.Trim().ToLowerInvariant(), out var c) ? c : throw Bad(key, v, $"expected one of: {string.Join(", ", choices.Keys)}");
    }

    /// <summary>An array setting: <c>key.0</c>, <c>key.1</c>, ... in index order.</summary>
    public IReadOnlyList<string> List(string key) =>
        _values.Where(kv => kv.Key.StartsWith(key + ".", StringComparison.Ordinal) && kv.Value is not null)
            .Select(kv => (Index: int.TryParse(kv.Key[(key.Length + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : throw Bad(kv.Key, kv.Value!, $"{key} is a list"), kv.Value!))
            .OrderBy(x => x.Index)
            .Select(x => x.Item2)
            .ToList();

    /// <summary>The settings reference.conf declares: leaves, lists, and the namespace properties.</summary>
    private sealed class Known
    {
        private const string Namespaces = "kv.namespaces.";
        private readonly HashSet<string> _leaves = new(StringComparer.Ordinal);
        private readonly HashSet<string> _lists = new(StringComparer.Ordinal);

        public Known(Config reference)
        {
            var flat = new Dictionary<string, string?>(StringComparer.Ordinal);
            Flatten(reference.GetValue("kv"), "kv", flat);
            foreach (var (key, value) in flat)
            {
                int dot = key.LastIndexOf('.');
                if (value is null && !flat.Keys.Any(k => k.StartsWith(key + ".", StringComparison.Ordinal)))
                    _lists.Add(key); // an empty list in reference.conf
                else if (dot > 0 && key[(dot + 1)..].All(char.IsAsciiDigit))
                    _lists.Add(key[..dot]);
                else
                    _leaves.Add(key);
            }
        }

        public void Check(string key)
        {
            if (_leaves.Contains(key) || _lists.Contains(key))
                return;
            int dot = key.LastIndexOf('.');
            if (dot > 0 && _lists.Contains(key[..dot]) && key[(dot + 1)..].All(char.IsAsciiDigit))
                return;
            if (key.StartsWith(Namespaces, StringComparison.Ordinal))
            {
                var parts = key[Namespaces.Length..].Split('.');
                if (parts.Length == 2 && _leaves.Contains(Namespaces + "default." + parts[1]))
                    return;
                if (parts.Length == 2)
                    throw new ConfigException($"unknown setting '{key}': a namespace has the properties {string.Join(", ", _leaves.Where(l => l.StartsWith(Namespaces + "default.", StringComparison.Ordinal)).Select(l => l[(Namespaces.Length + 8)..]))}");
            }
            string? near = _leaves.Concat(_lists).MinBy(k => Distance(k, key));
            throw new ConfigException($"unknown setting '{key}'" + (near is not null && Distance(near, key) <= 4 ? $" (did you mean '{near}'?)" : " (reference.conf lists every setting)"));
        }

        private static int Distance(string a, string b)
        {
            var d = new int[b.Length + 1];
            for (int j = 0; j <= b.Length; j++)
                d[j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                int prev = d[0];
                d[0] = i;
                for (int j = 1; j <= b.Length; j++)
                {
                    int cur = d[j];
                    d[j] = Math.Min(Math.Min(d[j] + 1, d[j - 1] + 1), prev + (a[i - 1] == b[j - 1] ? 0 : 1));
                    prev = cur;
                }
            }
            return d[b.Length];
        }
    }
}
