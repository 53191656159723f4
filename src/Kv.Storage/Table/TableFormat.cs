using System.Buffers.Binary;
using Kv.Storage.Util;

namespace Kv.Storage.Table;

/// <summary>Constants and footer codec of the table format (docs/sstable-format.md).</summary>
internal static class TableFormat
{
    public const ulong Magic = 0xdb4775248b80fb57UL;
    public const uint FormatVersion = 1;
    public const int BlockTrailerSize = 5;
    public const int FooterSize = 56;
    public const byte NoCompression = 0;
    public const string FilterName = "filter.kv.bloom";
    public const string PropertiesName = "kv.properties";

    public static void WriteFooter(Span<byte> dst, BlockHandle metaIndex, BlockHandle index)
    {
        dst[..FooterSize].Clear();
        int n = metaIndex.EncodeTo(dst);
        index.EncodeTo(dst[n..]);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[40..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[44..], Crc32C.Mask(Crc32C.Compute(dst[..44])));
        BinaryPrimitives.WriteUInt64LittleEndian(dst[48..], Magic);
    }

    public static (BlockHandle MetaIndex, BlockHandle Index) ReadFooter(ReadOnlySpan<byte> src, string file, long offset)
    {
        if (src.Length != FooterSize)
        {
            throw new StorageCorruptionException(file, offset, "file too short to hold a table footer");
        }
        if (BinaryPrimitives.ReadUInt64LittleEndian(src[48..]) != Magic)
        {
            throw new StorageCorruptionException(file, offset, "bad table magic number");
        }
        if (Crc32C.Unmask(BinaryPrimitives.ReadUInt32LittleEndian(src[44..])) != Crc32C.Compute(src[..44]))
        {
            throw new StorageCorruptionException(file, offset, "footer checksum mismatch");
        }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(src[40..]);
        if (version != FormatVersion)
        {
            throw new StorageCorruptionException(file, offset, $"unsupported table format version {version}");
        }
        int pos = 0;
        if (!BlockHandle.TryDecode(src, ref pos, out BlockHandle meta) || !BlockHandle.TryDecode(src, ref pos, out BlockHandle index))
        {
            throw new StorageCorruptionException(file, offset, "bad block handle in footer");
        }
        return (meta, index);
    }
}
