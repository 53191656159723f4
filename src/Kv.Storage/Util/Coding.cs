using System.Runtime.CompilerServices;

namespace Kv.Storage.Util;

/// <summary>LevelDB-style varint encoding (7 bits per byte, little-endian groups).</summary>
internal static class Coding
{
    public const int MaxVarint32Length = 5;
    public const int MaxVarint64Length = 10;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PutVarint32(Span<byte> dst, uint v)
    {
        int i = 0;
        while (v >= 0x80)
        {
            dst[i++] = (byte)(v | 0x80);
            v >>= 7;
        }
        dst[i++] = (byte)v;
        return i;
    }

    public static int PutVarint64(Span<byte> dst, ulong v)
    {
        int i = 0;
        while (v >= 0x80)
        {
            dst[i++] = (byte)(v | 0x80);
            v >>= 7;
        }
        dst[i++] = (byte)v;
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int VarintLength(ulong v)
    {
        int len = 1;
        while (v >= 0x80)
        {
            v >>= 7;
            len++;
        }
        return len;
    }

    /// <summary>Decodes a varint32; returns false on truncated or over-long input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryGetVarint32(ReadOnlySpan<byte> src, ref int pos, out uint value)
    {
        if ((uint)pos < (uint)src.Length && src[pos] < 0x80)
        {
            value = src[pos++];
            return true;
        }
        return TryGetVarint32Slow(src, ref pos, out value);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryGetVarint32Slow(ReadOnlySpan<byte> src, ref int pos, out uint value)
    {
        uint result = 0;
        for (int shift = 0; shift <= 28; shift += 7)
        {
            if ((uint)pos >= (uint)src.Length)
            {
                break;
            }
            uint b = src[pos++];
            if (shift == 28 && b > 0x0F)
            {
                break;
            }
            result |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                value = result;
                return true;
            }
        }
        value = 0;
        return false;
    }

    public static bool TryGetVarint64(ReadOnlySpan<byte> src, ref int pos, out ulong value)
    {
        ulong result = 0;
        for (int shift = 0; shift <= 63; shift += 7)
        {
            if ((uint)pos >= (uint)src.Length)
            {
                break;
            }
            ulong b = src[pos++];
            if (shift == 63 && b > 1)
            {
                break;
            }
            result |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                value = result;
                return true;
            }
        }
        value = 0;
        return false;
    }

    /// <summary>Reads a varint32 length followed by that many bytes.</summary>
    public static bool TryGetLengthPrefixed(ReadOnlySpan<byte> src, ref int pos, out ReadOnlySpan<byte> slice)
    {
        int p = pos;
        if (!TryGetVarint32(src, ref p, out uint len) || len > (uint)(src.Length - p))
        {
            slice = default;
            return false;
        }
        slice = src.Slice(p, (int)len);
        pos = p + (int)len;
        return true;
    }
}
