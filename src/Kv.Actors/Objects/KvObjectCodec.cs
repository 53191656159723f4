using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;

namespace Kv.Actors.Objects;

/// <summary>
/// The stored form of an object (a DVV set of siblings). Layout, little-endian:
/// u8 version (1), u32 entry count, per entry { u16 id length, id UTF-8, i64 counter, u32 value count,
/// values }, u32 anonymous count, values; a value is { u8 flags (1 = deleted), i64 last-modified ms,
/// u16 content-type length, content type, u32 length, bytes }. Anything inconsistent is a FormatException.
/// </summary>
public static class KvObjectCodec
{
    private const byte Version = 1;

    public static byte[] Encode(DvvSet<Sibling> obj)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true);
        w.Write(Version);
        w.Write(obj.Entries.Count);
        foreach (var e in obj.Entries)
        {
            var id = Encoding.UTF8.GetBytes(e.Id);
            w.Write((ushort)id.Length);
            w.Write(id);
            w.Write(e.Counter);
            WriteValues(w, e.Values);
        }
        WriteValues(w, obj.Anonymous);
        w.Flush();
        return ms.ToArray();
    }

    private static void WriteValues(BinaryWriter w, IReadOnlyList<Sibling> values)
    {
        w.Write(values.Count);
        foreach (var v in values)
        {
            w.Write((byte)(v.Deleted ? 1 : 0));
            w.Write(v.LastModifiedMs);
            var ct = Encoding.UTF8.GetBytes(v.ContentType);
            w.Write((ushort)ct.Length);
            w.Write(ct);
            w.Write(v.Value.Length);
            w.Write(v.Value);
        }
    }

    public static DvvSet<Sibling> Decode(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        if (r.U8() != Version)
            throw new FormatException("unknown object format version");
        int entries = r.Count();
        var list = ImmutableList.CreateBuilder<DvvSet<Sibling>.Entry>();
        string? previousId = null;
        for (int i = 0; i < entries; i++)
        {
            string id = Encoding.UTF8.GetString(r.Bytes(r.U16()));
            if (previousId is not null && string.CompareOrdinal(previousId, id) >= 0)
                throw new FormatException("object entries out of order");
            previousId = id;
            long counter = r.I64();
            var values = ReadValues(ref r);
            if (counter < values.Count)
                throw new FormatException("an entry holds more values than its counter");
            list.Add(new DvvSet<Sibling>.Entry(id, counter, values));
        }
        var anonymous = ReadValues(ref r);
        if (!r.AtEnd)
            throw new FormatException("trailing bytes after the object");
        return new DvvSet<Sibling>(list.ToImmutable(), anonymous);
    }

    private static ImmutableList<Sibling> ReadValues(ref Reader r)
    {
        int count = r.Count();
        var b = ImmutableList.CreateBuilder<Sibling>();
        for (int i = 0; i < count; i++)
        {
            byte flags = r.U8();
            if (flags > 1)
                throw new FormatException("unknown sibling flags");
            long modified = r.I64();
            string ct = Encoding.UTF8.GetString(r.Bytes(r.U16()));
            var value = r.Bytes(r.Count()).ToArray();
            b.Add(new Sibling(value, ct, modified, flags == 1));
        }
        return b.ToImmutable();
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
