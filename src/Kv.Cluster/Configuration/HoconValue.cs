namespace Kv.Cluster.Configuration;

/// <summary>Where a value was written: file, line and column (1-based).</summary>
public readonly record struct HoconPosition(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A node of a parsed HOCON document.</summary>
public abstract class HoconValue
{
    protected HoconValue(HoconPosition position) => Position = position;

    public HoconPosition Position { get; }
}

/// <summary>An object: fields in the order they were first set.</summary>
public sealed class HoconObject : HoconValue
{
    private readonly Dictionary<string, HoconValue> _fields = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public HoconObject(HoconPosition position)
        : base(position)
    {
    }

    public IEnumerable<KeyValuePair<string, HoconValue>> Fields => _order.Select(k => new KeyValuePair<string, HoconValue>(k, _fields[k]));

    public bool TryGet(string key, out HoconValue value) => _fields.TryGetValue(key, out value!);

    public void Set(string key, HoconValue value)
    {
        if (!_fields.ContainsKey(key))
            _order.Add(key);
        _fields[key] = value;
    }

    public void Remove(string key)
    {
        if (_fields.Remove(key))
            _order.Remove(key);
    }

    /// <summary>The value at a dotted path of plain keys, or null.</summary>
    public HoconValue? Find(IReadOnlyList<string> path)
    {
        HoconValue current = this;
        foreach (string key in path)
        {
            if (current is not HoconObject o || !o.TryGet(key, out current))
                return null;
        }
        return current;
    }
}

/// <summary>An array.</summary>
public sealed class HoconArray(HoconPosition position, List<HoconValue> items) : HoconValue(position)
{
    public List<HoconValue> Items { get; } = items;
}

/// <summary>A string, number or boolean, kept as written (numbers and booleans are unquoted strings).</summary>
public sealed class HoconString(HoconPosition position, string value, bool quoted) : HoconValue(position)
{
    public string Value { get; } = value;

    public bool Quoted { get; } = quoted;
}

/// <summary>Spaces between pieces of a concatenation (they count between strings only).</summary>
public sealed class HoconSpace(HoconPosition position, string text) : HoconValue(position)
{
    public string Text { get; } = text;
}

/// <summary>The literal null.</summary>
public sealed class HoconNull(HoconPosition position) : HoconValue(position);

/// <summary><c>${path}</c> or <c>${?path}</c>.</summary>
public sealed class HoconSubstitution(HoconPosition position, IReadOnlyList<string> path, bool optional) : HoconValue(position)
{
    public IReadOnlyList<string> Path { get; } = path;

    public bool Optional { get; } = optional;

    public string DottedPath => string.Join('.', Path);
}

/// <summary>
/// A value that needs resolving: pieces written side by side (strings joined, arrays appended,
/// objects merged) of which at least one is a substitution. <see cref="Previous"/> is the value
/// the field held before this assignment (what a self-reference or an unset <c>${?X}</c> falls back to).
/// </summary>
public sealed class HoconConcat(HoconPosition position, List<HoconValue> parts) : HoconValue(position)
{
    public List<HoconValue> Parts { get; } = parts;

    public HoconValue? Previous { get; set; }
}

/// <summary>A syntax or resolution error, with the file, line and column it was found at.</summary>
public sealed class HoconException : Exception
{
    public HoconException(HoconPosition position, string message)
        : base($"{position}: {message}")
    {
        Position = position;
        Reason = message;
    }

    public HoconPosition Position { get; }

    public string Reason { get; }
}
