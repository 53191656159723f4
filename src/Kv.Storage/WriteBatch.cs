using System.Buffers.Binary;
using Kv.Storage.Util;

namespace Kv.Storage;

/// <summary>
/// A group of puts and deletes applied atomically. Encoded as the WAL payload: sequence fixed64,
/// count fixed32, time fixed64 (unix ms, stamped at commit; deletions carry it for the grace
/// period), then records of type u8, key (varint length + bytes) and, for puts, value.
/// </summary>
public sealed class WriteBatch
{
    internal const int HeaderSize = 20;
    private byte[] _rep;
    private int _length = HeaderSize;

    public WriteBatch()
        : this(128 - HeaderSize)
    {
    }

    /// <summary>A batch with room for about <paramref name="expectedBytes"/> of keys and values without growing.</summary>
    public WriteBatch(int expectedBytes) => _rep = new byte[HeaderSize + Math.Max(0, expectedBytes) + 16];

    /// <summary>Number of operations in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>Encoded size in bytes.</summary>
    public int ApproximateSize => _length;

    internal ReadOnlySpan<byte> Rep => _rep.AsSpan(0, _length);

    public WriteBatch Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        LsmEngine.ValidateKey(key);
        LsmEngine.ValidateValue(value);
        Ensure(1 + Coding.MaxVarint32Length * 2 + key.Length + value.Length);
        _rep[_length++] = (byte)EntryType.Value;
        AppendSlice(key);
        AppendSlice(value);
        Count++;
        return this;
    }

    public WriteBatch Delete(ReadOnlySpan<byte> key)
    {
        LsmEngine.ValidateKey(key);
        Ensure(1 + Coding.MaxVarint32Length + key.Length);
        _rep[_length++] = (byte)EntryType.Deletion;
        AppendSlice(key);
        Count++;
        return this;
    }

    public void Clear()
    {
        _length = HeaderSize;
        Count = 0;
    }

    internal void Append(WriteBatch other)
    {
        int body = other._length - HeaderSize;
        Ensure(body);
        other._rep.AsSpan(HeaderSize, body).CopyTo(_rep.AsSpan(_length));
        _length += body;
        Count += other.Count;
    }

    /// <summary>Stamps the header with the first sequence number and commit time.</summary>
    internal void Stamp(ulong sequence, long unixMillis)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_rep, sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(_rep.AsSpan(8), (uint)Count);
        BinaryPrimitives.WriteInt64LittleEndian(_rep.AsSpan(12), unixMillis);
    }

    private void AppendSlice(ReadOnlySpan<byte> s)
    {
        _length += Coding.PutVarint32(_rep.AsSpan(_length), (uint)s.Length);
        s.CopyTo(_rep.AsSpan(_length));
        _length += s.Length;
    }

    private void Ensure(int extra)
    {
        if (_length + extra > _rep.Length)
        {
            Array.Resize(ref _rep, Math.Max(_rep.Length * 2, _length + extra));
        }
    }

    /// <summary>Visits the records of an encoded batch; false if the encoding is damaged.</summary>
    internal static bool TryDecode(ReadOnlySpan<byte> rep, out ulong sequence, out int count, out long unixMillis, IBatchHandler handler)
    {
        sequence = 0;
        count = 0;
        unixMillis = 0;
        if (rep.Length < HeaderSize)
        {
            return false;
        }
        sequence = BinaryPrimitives.ReadUInt64LittleEndian(rep);
        count = (int)BinaryPrimitives.ReadUInt32LittleEndian(rep[8..]);
        unixMillis = BinaryPrimitives.ReadInt64LittleEndian(rep[12..]);
        int pos = HeaderSize;
        int seen = 0;
        while (pos < rep.Length)
        {
            byte type = rep[pos++];
            if (!Coding.TryGetLengthPrefixed(rep, ref pos, out ReadOnlySpan<byte> key))
            {
                return false;
            }
            if (type == (byte)EntryType.Value)
            {
                if (!Coding.TryGetLengthPrefixed(rep, ref pos, out ReadOnlySpan<byte> value))
                {
                    return false;
                }
                handler.Put(sequence + (ulong)seen, key, value);
            }
            else if (type == (byte)EntryType.Deletion)
            {
                handler.Delete(sequence + (ulong)seen, key, unixMillis);
            }
            else
            {
                return false;
            }
            seen++;
        }
        return seen == count;
    }
}

/// <summary>Receives the records of a decoded batch.</summary>
internal interface IBatchHandler
{
    void Put(ulong sequence, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

    void Delete(ulong sequence, ReadOnlySpan<byte> key, long unixMillis);
}
