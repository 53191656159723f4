using System.Globalization;
using System.Text;

namespace Kv.Actors.Crdt;

/// <summary>The type of a register's value.</summary>
public enum RegisterType : byte
{
    String = 0,
    Int = 1,
    Float = 2,
}

/// <summary>
/// A last-writer-wins register with a typed value: the write with the larger (timestamp, actor,
/// value) wins a merge (a total order, so the merge is commutative, associative and idempotent).
/// The timestamp is the coordinating vnode's clock, never below the stored one + 1, so a later
/// write at the same replica always wins. An int is a 64-bit integer, a float a finite double,
/// both kept as their canonical text. Immutable.
/// </summary>
public sealed record TypedRegister(RegisterType Type, byte[] Value, long Timestamp, string Actor)
{
    internal const byte Tag = 0x52; // 'R'
    private const byte Version = 1;

    /// <summary>Bytes per value.</summary>
    public const int MaxValueBytes = 1024 * 1024;

    public static RegisterType ParseType(string? type) => type?.ToLowerInvariant() switch
    {
        null or "" or "string" => RegisterType.String,
        "int" or "integer" => RegisterType.Int,
        "float" or "double" => RegisterType.Float,
        _ => throw new CrdtRefusedException($"unknown register type '{type}' (string, int or float)"),
    };

    public static string Name(RegisterType type) => type switch
    {
        RegisterType.Int => "int",
        RegisterType.Float => "float",
        _ => "string",
    };

    /// <summary>The value checked for its type and made canonical (an int's or float's invariant text).</summary>
    public static byte[] Canonical(RegisterType type, byte[] value)
    {
        if (value.Length > MaxValueBytes)
            throw new CrdtRefusedException($"a register value of {value.Length} bytes exceeds {MaxValueBytes} bytes");
        string text;
        switch (type)
        {
            case RegisterType.String:
                return value;
            case RegisterType.Int:
                text = Encoding.UTF8.GetString(value).Trim();
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
                    throw new CrdtRefusedException($"'{Shorten(text)}' is not an int (a 64-bit integer, {long.MinValue}..{long.MaxValue})");
                return Encoding.UTF8.GetBytes(l.ToString(CultureInfo.InvariantCulture));
            case RegisterType.Float:
                text = Encoding.UTF8.GetString(value).Trim();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !double.IsFinite(d))
                    throw new CrdtRefusedException($"'{Shorten(text)}' is not a float (a finite double)");
                return Encoding.UTF8.GetBytes(d.ToString("R", CultureInfo.InvariantCulture));
            default:
                throw new CrdtRefusedException($"unknown register type {type}");
        }
    }

    private static string Shorten(string s) => s.Length > 40 ? s[..40] + "..." : s;

    public static TypedRegister Merge(TypedRegister a, TypedRegister b) => Compare(a, b) >= 0 ? a : b;

    private static int Compare(TypedRegister a, TypedRegister b)
    {
        int c = a.Timestamp.CompareTo(b.Timestamp);
        if (c == 0)
            c = string.CompareOrdinal(a.Actor, b.Actor);
        if (c == 0)
            c = ((byte)a.Type).CompareTo((byte)b.Type);
        return c != 0 ? c : a.Value.AsSpan().SequenceCompareTo(b.Value);
    }

    /// <summary>u8 tag 'R', u8 version 1, u8 type, i64 timestamp, string actor, bytes value.</summary>
    public byte[] Encode()
    {
        var w = new CrdtWriter(Tag, Version);
        w.U8((byte)Type);
        w.I64(Timestamp);
        w.String(Actor);
        w.Bytes(Value);
        return w.ToArray();
    }

    public static TypedRegister Decode(ReadOnlySpan<byte> data)
    {
        var r = new CrdtReader(data, Tag, Version, "register");
        byte type = r.U8();
        if (type > 2)
            throw new FormatException($"unknown register type {type}");
        long ts = r.I64();
        string actor = r.String();
        byte[] value = r.Bytes();
        r.End();
        return new TypedRegister((RegisterType)type, value, ts, actor);
    }

    public bool Equals(TypedRegister? other) =>
        other is not null && Type == other.Type && Timestamp == other.Timestamp && Actor == other.Actor && Value.AsSpan().SequenceEqual(other.Value);

    public override int GetHashCode() => HashCode.Combine(Type, Timestamp, Actor);

    public string Text => Encoding.UTF8.GetString(Value);
}
