using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;

namespace Kv.Actors.Objects;

/// <summary>
/// The stored form of an object (a DVV set of siblings). Layout, little-endian:
/// u8 version (1 or 2), u32 entry count, per entry { u16 id length, id UTF-8, i64 counter, u32 value count,
/// values }, u32 anonymous count, values; a value is { u8 flags (1 = deleted, 2 = expires: version 2
/// only), i64 last-modified ms, [i64 expiry ms, when flag 2], u16 content-type length, content type,
/// u32 length, bytes }. An object none of whose values has an expiry (TTL) is written as version 1,
/// byte for byte as before TTLs existed, so such objects keep their encoding (and compare equal
/// byte for byte across nodes of both versions); one with an expiry is version 2. Both decode.
/// Anything inconsistent is a FormatException.
/// </summary>
public static class KvObjectCodec
{
    private const byte Version = 1;
    private const byte VersionWithExpiry = 2;
    private const byte DeletedFlag = 1;
    private const byte ExpiresFlag = 2;

    public static byte[] Encode(DvvSet<Sibling> obj)
    {
        // Sized first, then written into one array (a growing stream allocated three times the object).
        bool expiry = Expiry.AnyExpiry(obj);
        int size = 1 + 4 + ValuesSize(obj.Anonymous, expiry);
        foreach (var e in obj.Entries)
            size += 2 + Encoding.UTF8.GetByteCount(e.Id) + 8 + ValuesSize(e.Values, expiry);
        var buffer = new byte[size];
        var w = new Writer(buffer);
        w.U8(expiry ? VersionWithExpiry : Version);
        w.I32(obj.Entries.Length);
        foreach (var e in obj.Entries)
        {
            w.String(e.Id);
            w.I64(e.Counter);
            WriteValues(ref w, e.Values);
        }
        WriteValues(ref w, obj.Anonymous);
        if (!w.AtEnd)
            throw new InvalidOperationException("object size miscounted");
        return buffer;
    }

    private static int ValuesSize(IReadOnlyList<Sibling> values, bool expiry)
    {
        int size = 4;
        foreach (var v in values)
            size += 1 + 8 + (expiry && v.ExpiresAtMs != 0 ? 8 : 0) + 2 + Encoding.UTF8.GetByteCount(v.ContentType) + 4 + v.Value.Length;
        return size;
    }

    private static void WriteValues(ref Writer w, IReadOnlyList<Sibling> values)
    {
        w.I32(values.Count);
        foreach (var v in values)
        {
            w.U8((byte)((v.Deleted ? DeletedFlag : 0) | (v.ExpiresAtMs != 0 ? ExpiresFlag : 0)));
            w.I64(v.LastModifiedMs);
            if (v.ExpiresAtMs != 0)
                w.I64(v.ExpiresAtMs);
            w.String(v.ContentType);
            w.I32(v.Value.Length);
            w.Bytes(v.Value);
        }
    }

    /// <summary>
    /// Checks <paramref name="data"/> as <see cref="Decode"/> would, allocating nothing: a FormatException
    /// for anything Decode rejects. A reader that only passes stored bytes on checks them with this.
    /// </summary>
    public static void Validate(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        byte maxFlags = MaxFlags(r.U8());
        int entries = r.Count();
        ReadOnlySpan<byte> previousId = default;
        for (int i = 0; i < entries; i++)
        {
            var id = r.Bytes(r.U16());
            if (i > 0 && CompareIds(previousId, id) >= 0)
                throw new FormatException("object entries out of order");
            previousId = id;
            long counter = r.I64();
            int values = SkipValues(ref r, maxFlags);
            if (counter < values)
                throw new FormatException("an entry holds more values than its counter");
        }
        SkipValues(ref r, maxFlags);
        if (!r.AtEnd)
            throw new FormatException("trailing bytes after the object");
    }

    /// <summary>The sibling flags a version allows (a FormatException for an unknown version).</summary>
    private static byte MaxFlags(byte version) => version switch
    {
        Version => DeletedFlag,
        VersionWithExpiry => DeletedFlag | ExpiresFlag,
        _ => throw new FormatException("unknown object format version"),
    };

    private static long ReadExpiry(ref Reader r, byte flags)
    {
        if ((flags & ExpiresFlag) == 0)
            return 0;
        long expiry = r.I64();
        return expiry > 0 ? expiry : throw new FormatException("a sibling's expiry is not positive");
    }

    private static int SkipValues(ref Reader r, byte maxFlags)
    {
        int count = r.Count();
        for (int i = 0; i < count; i++)
        {
            byte flags = r.U8();
            if ((flags & ~maxFlags) != 0)
                throw new FormatException("unknown sibling flags");
            r.I64();
            ReadExpiry(ref r, flags);
            r.Bytes(r.U16());
            r.Bytes(r.Count());
        }
        return count;
    }

    // As Decode compares them: the ids decoded to strings (invalid UTF-8 replaced), ordinal.
    private static int CompareIds(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length <= 256 && b.Length <= 256)
        {
            Span<char> ca = stackalloc char[256];
            Span<char> cb = stackalloc char[256];
            int na = Encoding.UTF8.GetChars(a, ca);
            int nb = Encoding.UTF8.GetChars(b, cb);
            return ca[..na].SequenceCompareTo(cb[..nb]);
        }
        return string.CompareOrdinal(Encoding.UTF8.GetString(a), Encoding.UTF8.GetString(b));
    }

    public static DvvSet<Sibling> Decode(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        byte maxFlags = MaxFlags(r.U8());
        int entries = r.Count();
        var list = ImmutableArray.CreateBuilder<DvvSet<Sibling>.Entry>(entries);
        string? previousId = null;
        for (int i = 0; i < entries; i++)
        {
            string id = Encoding.UTF8.GetString(r.Bytes(r.U16()));
            if (previousId is not null && string.CompareOrdinal(previousId, id) >= 0)
                throw new FormatException("object entries out of order");
            previousId = id;
            long counter = r.I64();
            var values = ReadValues(ref r, maxFlags);
            if (counter < values.Length)
                throw new FormatException("an entry holds more values than its counter");
            list.Add(new DvvSet<Sibling>.Entry(id, counter, values));
        }
        var anonymous = ReadValues(ref r, maxFlags);
        if (!r.AtEnd)
            throw new FormatException("trailing bytes after the object");
        return new DvvSet<Sibling>(list.MoveToImmutable(), anonymous);
    }

    private static ImmutableArray<Sibling> ReadValues(ref Reader r, byte maxFlags)
    {
        int count = r.Count();
        var b = ImmutableArray.CreateBuilder<Sibling>(count);
        for (int i = 0; i < count; i++)
        {
            byte flags = r.U8();
            if ((flags & ~maxFlags) != 0)
                throw new FormatException("unknown sibling flags");
            long modified = r.I64();
            long expiry = ReadExpiry(ref r, flags);
            string ct = Encoding.UTF8.GetString(r.Bytes(r.U16()));
            var value = r.Bytes(r.Count()).ToArray();
            b.Add(new Sibling(value, ct, modified, (flags & DeletedFlag) != 0, expiry));
        }
        return b.MoveToImmutable();
    }

    private ref struct Writer(Span<byte> buffer)
    {
        private Span<byte> _rest = buffer;

        public readonly bool AtEnd => _rest.IsEmpty;

        public void U8(byte b)
        {
            _rest[0] = b;
            _rest = _rest[1..];
        }

        public void I32(int v)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_rest, v);
            _rest = _rest[4..];
        }

        public void I64(long v)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_rest, v);
            _rest = _rest[8..];
        }

        public void Bytes(ReadOnlySpan<byte> b)
        {
            b.CopyTo(_rest);
            _rest = _rest[b.Length..];
        }

        /// <summary>u16 byte length, then the UTF-8 bytes.</summary>
        public void String(string s)
        {
            int n = Encoding.UTF8.GetBytes(s, _rest[2..]);
            BinaryPrimitives.WriteUInt16LittleEndian(_rest, (ushort)n);
            _rest = _rest[(2 + n)..];
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool AtEnd => _rest.IsEmpty;

        public ReadOnlySpan<byte> Bytes(int n)
        {
            if (n < 0 || n > _rest.Length)
                throw new FormatException("object truncated");
            var s = _rest[..n];
            _rest = _rest[n..];
            return s;
        }

        public byte U8() => Bytes(1)[0];

        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));

        public int Count()
        {
            int n = BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));
            return n < 0 || n > _rest.Length ? throw new FormatException("bad count in object") : n;
        }

        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Bytes(8));
    }
}
