using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;

namespace Kv.Actors.Crdt;

/// <summary>
/// Little-endian writer and reader for the CRDT states' binary encodings. Every state starts with
/// a u8 type tag and a u8 format version; the reader throws <see cref="FormatException"/> on
/// anything truncated, out of range or left over.
/// </summary>
internal sealed class CrdtWriter
{
    private readonly MemoryStream _out = new();

    public CrdtWriter(byte tag, byte version)
    {
        U8(tag);
        U8(version);
    }

    public void U8(byte b) => _out.WriteByte(b);

    public void I32(int v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        _out.Write(b);
    }

    public void I64(long v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        _out.Write(b);
    }

    public void Bytes(ReadOnlySpan<byte> v)
    {
        I32(v.Length);
        _out.Write(v);
    }

    public void String(string s) => Bytes(Encoding.UTF8.GetBytes(s));

    /// <summary>A version vector or a dot set: the count, then (actor, counter) in actor order.</summary>
    public void Dots(ImmutableSortedDictionary<string, long> dots)
    {
        I32(dots.Count);
        foreach (var (actor, n) in dots)
        {
            String(actor);
            I64(n);
        }
    }

    public byte[] ToArray() => _out.ToArray();
}

internal ref struct CrdtReader
{
    private ReadOnlySpan<byte> _rest;

    public CrdtReader(ReadOnlySpan<byte> data, byte tag, byte version, string what)
    {
        _rest = data;
        if (_rest.Length < 2 || _rest[0] != tag)
            throw new FormatException($"not a {what} state");
        if (_rest[1] != version)
            throw new FormatException($"unknown {what} format version {_rest[1]}");
        _rest = _rest[2..];
    }

    public readonly bool AtEnd => _rest.IsEmpty;

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || n > _rest.Length)
            throw new FormatException("CRDT state truncated");
        var s = _rest[..n];
        _rest = _rest[n..];
        return s;
    }

    public byte U8() => Take(1)[0];

    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    /// <summary>A count of items that each take at least <paramref name="minItemBytes"/> bytes (so a bad count cannot allocate much).</summary>
    public int Count(int minItemBytes)
    {
        int n = I32();
        return n < 0 || (long)n * minItemBytes > _rest.Length ? throw new FormatException("bad count in CRDT state") : n;
    }

    public byte[] Bytes() => Take(I32()).ToArray();

    public string String()
    {
        var b = Take(I32());
        try
        {
            return new UTF8Encoding(false, true).GetString(b);
        }
        catch (DecoderFallbackException e)
        {
            throw new FormatException("an actor id is not UTF-8", e);
        }
    }

    /// <summary>What <see cref="CrdtWriter.Dots"/> wrote: actors non-empty, in strictly ascending order, counters positive.</summary>
    public ImmutableSortedDictionary<string, long> Dots(string what)
    {
        int count = Count(12);
        var b = ImmutableSortedDictionary.CreateBuilder<string, long>(StringComparer.Ordinal);
        string? previous = null;
        for (int i = 0; i < count; i++)
        {
            string actor = String();
            long n = I64();
            if (actor.Length == 0 || n < 1 || (previous is not null && string.CompareOrdinal(previous, actor) >= 0))
                throw new FormatException($"bad dot in {what} state");
            b.Add(actor, n);
            previous = actor;
        }
        return b.ToImmutable();
    }

    public readonly void End()
    {
        if (!_rest.IsEmpty)
            throw new FormatException("trailing bytes after the CRDT state");
    }
}

/// <summary>Byte strings in ordinal order (set members, map fields).</summary>
public sealed class OrdinalBytes : IComparer<byte[]>
{
    public static readonly OrdinalBytes Instance = new();

    public int Compare(byte[]? x, byte[]? y) => x is null ? (y is null ? 0 : -1) : y is null ? 1 : x.AsSpan().SequenceCompareTo(y);
}
