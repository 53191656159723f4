using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Kv.Storage.Util;

/// <summary>CRC32C (Castagnoli) with LevelDB's masking, used by every on-disk checksum.</summary>
public static class Crc32C
{
    private const uint MaskDelta = 0xa282ead8;

    /// <summary>Standard CRC32C of <paramref name="data"/> ("123456789" gives 0xE3069283).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Extend(0, data);

    /// <summary>Continues a CRC32C computed over earlier bytes.</summary>
    public static uint Extend(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            c = (uint)BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(i)));
        }
        for (; i < data.Length; i++)
        {
            c = BitOperations.Crc32C(c, data[i]);
        }
        return ~c;
    }

    /// <summary>Masks a CRC so that CRCs of data that embeds CRCs are not degenerate (LevelDB).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    /// <summary>Inverse of <see cref="Mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Unmask(uint masked)
    {
        uint rot = masked - MaskDelta;
        return (rot >> 17) | (rot << 15);
    }
}
