using System.Globalization;
using System.Text;

namespace Kv.Cluster.Configuration;

/// <summary>
/// Reads HOCON text into a tree of <see cref="HoconValue"/>s: objects (braces optional at the
/// root), dotted keys, <c>=</c> / <c>:</c> / <c>+=</c>, arrays, quoted and triple-quoted strings,
/// unquoted strings and value concatenation, <c>#</c> and <c>//</c> comments, <c>include</c>
/// (plain, <c>file(...)</c>, <c>required(...)</c>; relative to the including file), duplicate
/// objects merged, later scalars winning. Substitutions are kept as written for
/// <see cref="HoconResolver"/>. Any error names the file, line and column.
/// </summary>
public sealed class HoconParser
{
    private const string Forbidden = "$\"{}[]:=,+#`^?!@*&\\";
    private const int MaxIncludeDepth = 16;

    private readonly string _text;
    private readonly string _file;
    private readonly string? _directory;
    private readonly int _depth;
    private int _pos;
    private int _line = 1;
    private int _col = 1;

    private HoconParser(string text, string file, string? directory, int depth) =>
        (_text, _file, _directory, _depth) = (text, file, directory, depth);

    /// <summary>Parses <paramref name="text"/>; <paramref name="name"/> is used in error messages, <paramref name="directory"/> for includes.</summary>
    public static HoconObject Parse(string text, string name, string? directory = null) => new HoconParser(text, name, directory, 0).ParseDocument();

    /// <summary>Parses the file at <paramref name="path"/>.</summary>
    public static HoconObject ParseFile(string path) => ParseFile(path, 0, new HoconPosition(path, 0, 0));

    private static HoconObject ParseFile(string path, int depth, HoconPosition from)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HoconException(from, $"cannot read '{path}': {e.Message}");
        }
        return new HoconParser(text, path, Path.GetDirectoryName(Path.GetFullPath(path)), depth).ParseDocument();
    }

    private HoconPosition Here => new(_file, _line, _col);

    private bool AtEnd => _pos >= _text.Length;

    private char Peek(int ahead = 0) => _pos + ahead < _text.Length ? _text[_pos + ahead] : '\0';

    private HoconException Error(string message) => new(Here, message);

    private void Advance()
    {
        if (_text[_pos] == '\n')
        {
            _line++;
            _col = 1;
        }
        else
        {
            _col++;
        }
        _pos++;
    }

    private void Expect(char c)
    {
        if (Peek() != c || AtEnd)
            throw Error($"expected '{c}' but found {Describe()}");
        Advance();
    }

    private string Describe() => AtEnd ? "the end of the file" : Peek() == '\n' ? "a line break" : $"'{Peek()}'";

    private bool AtComment() => Peek() == '#' || (Peek() == '/' && Peek(1) == '/');

    private void SkipComment()
    {
        while (!AtEnd && Peek() != '\n')
            Advance();
    }

    /// <summary>Skips spaces and tabs (and a comment) but not line breaks.</summary>
    private void SkipSpaces()
    {
        while (!AtEnd)
        {
            if (Peek() != '\n' && char.IsWhiteSpace(Peek()))
                Advance();
            else if (AtComment())
                SkipComment();
            else
                return;
        }
    }

    /// <summary>Skips whitespace, line breaks and comments.</summary>
    private void SkipAll()
    {
        while (!AtEnd)
        {
            if (char.IsWhiteSpace(Peek()))
                Advance();
            else if (AtComment())
                SkipComment();
            else
                return;
        }
    }

    private HoconObject ParseDocument()
    {
        if (_text.Length > 0 && _text[0] == '\uFEFF')
            _pos = 1;
        SkipAll();
        HoconObject root;
        if (Peek() == '{' && !AtEnd)
        {
            root = ParseBracedObject([]);
            SkipAll();
            if (!AtEnd)
                throw Error($"unexpected {Describe()} after the closing '}}' of the document");
        }
        else
        {
            root = new HoconObject(Here);
            ParseFields(root, [], closing: null);
        }
        return root;
    }

    private HoconObject ParseBracedObject(List<string> path)
    {
        var obj = new HoconObject(Here);
        Expect('{');
        ParseFields(obj, path, closing: '}');
        Expect('}');
        return obj;
    }

    /// <summary>Fields of one object up to <paramref name="closing"/> (or the end of the text at the root).</summary>
    private void ParseFields(HoconObject target, List<string> path, char? closing)
    {
        while (true)
        {
            SkipAll();
            if (AtEnd)
            {
                if (closing is not null)
                    throw Error($"expected '{closing}' before the end of the file");
                return;
            }
            if (Peek() == closing)
                return;
            if (Peek() == ',')
                throw Error("unexpected ','");
            if (TryParseInclude(target))
            {
                EndOfField(closing);
                continue;
            }
            var keyPosition = Here;
            var key = ParseKey();
            SkipSpaces();
            bool append = false;
            HoconValue value;
            var fieldPath = path.Concat(key).ToList();
            if (Peek() == '{')
            {
                value = ParseBracedObject(fieldPath);
            }
            else
            {
                if (Peek() is '=' or ':')
                {
                    Advance();
                }
                else if (Peek() == '+' && Peek(1) == '=')
                {
                    Advance();
                    Advance();
                    append = true;
                }
                else
                {
                    throw Error($"expected '=', ':' or '{{' after the key '{string.Join('.', key)}' but found {Describe()}");
                }
                SkipAll();
                value = ParseValue(fieldPath);
            }
            if (append)
                value = new HoconConcat(keyPosition, [new HoconSubstitution(keyPosition, fieldPath, optional: true), new HoconArray(value.Position, [value])]);
            Assign(target, key, value);
            EndOfField(closing);
        }
    }

    private void EndOfField(char? closing)
    {
        SkipSpaces();
        if (AtEnd || Peek() == '\n' || Peek() == closing)
            return;
        if (Peek() == ',')
        {
            Advance();
            return;
        }
        throw Error($"expected a line break, ',' or '{closing ?? '}'}' after a value but found {Describe()}");
    }

    private bool TryParseInclude(HoconObject target)
    {
        if (string.CompareOrdinal(_text, _pos, "include", 0, 7) != 0)
            return false;
        char after = Peek(7);
        if (!char.IsWhiteSpace(after) || after == '\n')
            return false;
        var at = Here;
        for (int i = 0; i < 7; i++)
            Advance();
        SkipSpaces();
        bool required = false;
        int parens = 0;
        while (Peek() != '"')
        {
            string word = ReadWhile(char.IsAsciiLetter);
            if (word == "required")
                required = true;
            else if (word is "classpath" or "url")
                throw new HoconException(at, $"include {word}(...) is not supported; use a file path");
            else if (word != "file")
                throw Error($"expected a quoted file name after 'include' but found {Describe()}");
            Expect('(');
            parens++;
        }
        string name = ParseQuoted();
        for (int i = 0; i < parens; i++)
            Expect(')');
        if (_depth >= MaxIncludeDepth)
            throw new HoconException(at, $"includes nested more than {MaxIncludeDepth} deep (an include cycle?)");
        string full = Path.IsPathRooted(name) ? name : Path.Combine(_directory ?? Directory.GetCurrentDirectory(), name);
        if (!File.Exists(full))
        {
            if (required)
                throw new HoconException(at, $"required include '{name}' not found (looked for {full})");
            return true;
        }
        MergeInto(target, ParseFile(full, _depth + 1, at));
        return true;
    }

    private string ReadWhile(Func<char, bool> accept)
    {
        int start = _pos;
        while (!AtEnd && accept(Peek()))
            Advance();
        return _text[start.._pos];
    }

    private List<string> ParseKey()
    {
        var segments = new List<string>();
        var segment = new StringBuilder();
        bool any = false;
        while (!AtEnd)
        {
            char c = Peek();
            if (c == '"')
            {
                segment.Append(ParseQuoted());
                any = true;
            }
            else if (c == '.')
            {
                if (!any)
                    throw Error("empty key segment (two dots, or a dot at the start of a key)");
                segments.Add(segment.ToString());
                segment.Clear();
                any = false;
                Advance();
            }
            else if (char.IsWhiteSpace(c) || Forbidden.Contains(c, StringComparison.Ordinal) || AtComment())
            {
                break;
            }
            else
            {
                segment.Append(c);
                any = true;
                Advance();
            }
        }
        if (!any)
            throw Error(segments.Count == 0 ? $"expected a key but found {Describe()}" : "a key cannot end with '.'");
        segments.Add(segment.ToString());
        return segments;
    }

    /// <summary>A value: one piece, or several written side by side on one line (concatenation).</summary>
    private HoconValue ParseValue(List<string> fieldPath)
    {
        var start = Here;
        var parts = new List<HoconValue>();
        while (!AtEnd)
        {
            char c = Peek();
            if (c is '\n' or ',' or '}' or ']' || AtComment())
                break;
            if (char.IsWhiteSpace(c))
            {
                var at = Here;
                string ws = ReadWhile(ch => ch != '\n' && char.IsWhiteSpace(ch));
                parts.Add(new HoconSpace(at, ws));
                continue;
            }
            parts.Add(c switch
            {
                '{' => ParseBracedObject(fieldPath),
                '[' => ParseArray(fieldPath),
                '"' => new HoconString(Here, ParseQuoted(), quoted: true),
                '$' => ParseSubstitution(),
                _ => ParseUnquoted(),
            });
        }
        while (parts.Count > 0 && parts[^1] is HoconSpace)
            parts.RemoveAt(parts.Count - 1);
        if (parts.Count == 0)
            throw new HoconException(start, $"expected a value but found {Describe()}");
        if (parts.Count == 1)
            return parts[0] is HoconSubstitution ? new HoconConcat(start, parts) : parts[0];
        if (parts.Any(p => p is HoconSubstitution))
            return new HoconConcat(start, parts);
        return Combine(start, parts);
    }

    /// <summary>Joins resolved pieces: strings are joined with the whitespace between them, arrays appended, objects merged.</summary>
    internal static HoconValue Combine(HoconPosition at, List<HoconValue> parts)
    {
        var solid = parts.Where(p => p is not HoconSpace).ToList();
        if (solid.Count == 1)
            return solid[0];
        if (solid.All(p => p is HoconArray))
            return new HoconArray(at, solid.SelectMany(p => ((HoconArray)p).Items).ToList());
        if (solid.All(p => p is HoconObject))
        {
            var merged = new HoconObject(at);
            foreach (var p in solid)
                MergeInto(merged, (HoconObject)Copy(p));
            return merged;
        }
        if (solid.Any(p => p is HoconArray or HoconObject))
            throw new HoconException(at, "cannot concatenate an array or object with a string (use one kind of value)");
        var sb = new StringBuilder();
        bool quoted = false;
        foreach (var p in parts)
        {
            switch (p)
            {
                case HoconSpace w:
                    sb.Append(w.Text);
                    break;
                case HoconString s:
                    sb.Append(s.Value);
                    quoted |= s.Quoted;
                    break;
                case HoconNull:
                    sb.Append("null");
                    break;
            }
        }
        return new HoconString(at, sb.ToString(), quoted);
    }

    private HoconArray ParseArray(List<string> fieldPath)
    {
        var at = Here;
        Expect('[');
        var items = new List<HoconValue>();
        while (true)
        {
            SkipAll();
            if (AtEnd)
                throw Error("expected ']' before the end of the file");
            if (Peek() == ']')
            {
                Advance();
                return new HoconArray(at, items);
            }
            items.Add(ParseValue(fieldPath));
            SkipSpaces();
            if (Peek() == ',')
            {
                Advance();
            }
            else if (Peek() != '\n' && Peek() != ']' && !AtEnd)
            {
                throw Error($"expected ',', a line break or ']' in an array but found {Describe()}");
            }
        }
    }

    private HoconSubstitution ParseSubstitution()
    {
        var at = Here;
        Advance();
        if (Peek() != '{')
            throw Error("expected '{' after '$' (a substitution is written ${path})");
        Advance();
        bool optional = false;
        if (Peek() == '?')
        {
            optional = true;
            Advance();
        }
        SkipSpaces();
        var path = ParseKey();
        SkipSpaces();
        if (Peek() != '}')
            throw Error($"expected '}}' to close the substitution but found {Describe()}");
        Advance();
        return new HoconSubstitution(at, path, optional);
    }

    private HoconValue ParseUnquoted()
    {
        var at = Here;
        var sb = new StringBuilder();
        while (!AtEnd)
        {
            char c = Peek();
            if (char.IsWhiteSpace(c) || AtComment())
                break;
            if (Forbidden.Contains(c, StringComparison.Ordinal))
            {
                if (sb.Length > 0)
                    break;
                throw Error($"unexpected '{c}' (quote strings that contain it)");
            }
            sb.Append(c);
            Advance();
        }
        string s = sb.ToString();
        return s == "null" ? new HoconNull(at) : new HoconString(at, s, quoted: false);
    }

    private string ParseQuoted()
    {
        var at = Here;
        if (Peek(1) == '"' && Peek(2) == '"')
            return ParseTripleQuoted(at);
        Advance();
        var sb = new StringBuilder();
        while (true)
        {
            if (AtEnd || Peek() == '\n')
                throw new HoconException(at, "unterminated string (a quoted string must end on the line it starts)");
            var charAt = Here;
            char c = Peek();
            Advance();
            if (c == '"')
                return sb.ToString();
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }
            if (AtEnd)
                throw new HoconException(at, "unterminated string");
            char e = Peek();
            Advance();
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    var hexAt = Here;
                    string hex = _pos + 4 <= _text.Length ? _text.Substring(_pos, 4) : "";
                    if (!int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                        throw new HoconException(hexAt, "\\u must be followed by four hex digits");
                    for (int i = 0; i < 4; i++)
                        Advance();
                    sb.Append((char)code);
                    break;
                default:
                    throw new HoconException(charAt, $"unknown escape '\\{e}' in a quoted string");
            }
        }
    }

    private string ParseTripleQuoted(HoconPosition at)
    {
        for (int i = 0; i < 3; i++)
            Advance();
        int start = _pos;
        while (true)
        {
            if (AtEnd)
                throw new HoconException(at, "unterminated \"\"\" string");
            if (Peek() == '"' && Peek(1) == '"' && Peek(2) == '"')
            {
                while (Peek(3) == '"')
                    Advance();
                string s = _text[start.._pos];
                for (int i = 0; i < 3; i++)
                    Advance();
                return s;
            }
            Advance();
        }
    }

    /// <summary>Sets <paramref name="key"/> (a path) in <paramref name="target"/>: objects merge, anything else replaces.</summary>
    private static void Assign(HoconObject target, List<string> key, HoconValue value)
    {
        var obj = target;
        for (int i = 0; i < key.Count - 1; i++)
        {
            if (!obj.TryGet(key[i], out var next) || next is not HoconObject child)
            {
                child = new HoconObject(value.Position);
                obj.Set(key[i], child);
            }
            obj = child;
        }
        Put(obj, key[^1], value);
    }

    private static void Put(HoconObject obj, string key, HoconValue value)
    {
        obj.TryGet(key, out var existing);
        if (value is HoconObject incoming && existing is HoconObject current)
        {
            MergeInto(current, incoming);
            return;
        }
        if (value is HoconConcat concat && concat.Previous is null)
            concat.Previous = existing;
        obj.Set(key, value);
    }

    /// <summary>A deep copy (so merging into it leaves the original alone).</summary>
    public static HoconValue Copy(HoconValue value)
    {
        switch (value)
        {
            case HoconObject o:
                var copy = new HoconObject(o.Position);
                foreach (var (k, v) in o.Fields)
                    copy.Set(k, Copy(v));
                return copy;
            case HoconArray a:
                return new HoconArray(a.Position, a.Items.Select(Copy).ToList());
            default:
                return value;
        }
    }

    /// <summary>Merges <paramref name="from"/> into <paramref name="into"/>: fields of <paramref name="from"/> win, objects merge.</summary>
    public static void MergeInto(HoconObject into, HoconObject from)
    {
        foreach (var (key, value) in from.Fields)
            Put(into, key, value);
    }
}
