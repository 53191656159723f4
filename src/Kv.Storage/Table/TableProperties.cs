using System.Buffers.Binary;

namespace Kv.Storage.Table;

/// <summary>Counts recorded in every table, shown by `kv storage stats`.</summary>
internal sealed record TableProperties(long Entries, long Deletions, long RawKeyBytes, long RawValueBytes, long DataBlocks)
{
    public const int EncodedSize = 40;

    public byte[] Encode()
    {
        var b = new byte[EncodedSize];
        BinaryPrimitives.WriteInt64LittleEndian(b, Entries);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), Deletions);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(16), RawKeyBytes);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(24), RawValueBytes);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(32), DataBlocks);
        return b;
    }

    public static TableProperties? TryDecode(ReadOnlySpan<byte> b) => b.Length < EncodedSize ? null : new(
        BinaryPrimitives.ReadInt64LittleEndian(b),
        BinaryPrimitives.ReadInt64LittleEndian(b[8..]),
        BinaryPrimitives.ReadInt64LittleEndian(b[16..]),
        BinaryPrimitives.ReadInt64LittleEndian(b[24..]),
        BinaryPrimitives.ReadInt64LittleEndian(b[32..]));
}
