using Kv.Storage.Util;

namespace Kv.Storage.Table;

/// <summary>Where a block lives in a table file: offset and size, without the 5-byte trailer.</summary>
internal readonly record struct BlockHandle(long Offset, long Size)
{
    public const int MaxEncodedLength = 2 * Coding.MaxVarint64Length;

    public int EncodeTo(Span<byte> dst)
    {
        int n = Coding.PutVarint64(dst, (ulong)Offset);
        return n + Coding.PutVarint64(dst[n..], (ulong)Size);
    }

    public static bool TryDecode(ReadOnlySpan<byte> src, ref int pos, out BlockHandle handle)
    {
        handle = default;
        if (!Coding.TryGetVarint64(src, ref pos, out ulong offset) || !Coding.TryGetVarint64(src, ref pos, out ulong size))
        {
            return false;
        }
        if (offset > long.MaxValue || size > int.MaxValue)
        {
            return false;
        }
        handle = new BlockHandle((long)offset, (long)size);
        return true;
    }
}
