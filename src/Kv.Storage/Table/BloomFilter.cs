using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Kv.Storage.Table;

/// <summary>
/// A whole-table Bloom filter over user keys (LevelDB's scheme: double hashing from one 32-bit hash,
/// k = bits per key x ln 2, capped to 1..30). Layout: bit array, then k as one byte.
/// </summary>
internal static class BloomFilter
{
    public static byte[] Build(List<uint> keyHashes, int bitsPerKey)
    {
        int k = Math.Clamp((int)(bitsPerKey * 0.69), 1, 30);
        int bits = Math.Max(64, keyHashes.Count * bitsPerKey);
        int bytes = (bits + 7) / 8;
        bits = bytes * 8;
        var filter = new byte[bytes + 1];
        filter[bytes] = (byte)k;
        foreach (uint hash in keyHashes)
        {
            uint h = hash;
            uint delta = (h >> 17) | (h << 15);
            for (int j = 0; j < k; j++)
            {
                uint pos = h % (uint)bits;
                filter[pos / 8] |= (byte)(1 << (int)(pos % 8));
                h += delta;
            }
        }
        return filter;
    }

    /// <summary>False means the key is certainly absent.</summary>
    public static bool MayContain(ReadOnlySpan<byte> filter, uint hash)
    {
        if (filter.Length < 2)
        {
            return true;
        }
        int bytes = filter.Length - 1;
        int k = filter[bytes];
        if (k > 30)
        {
            return true; // reserved for other encodings: do not filter
        }
        uint bits = (uint)bytes * 8;
        uint h = hash;
        uint delta = (h >> 17) | (h << 15);
        for (int j = 0; j < k; j++)
        {
            uint pos = h % bits;
            if ((filter[(int)(pos / 8)] & (1 << (int)(pos % 8))) == 0)
            {
                return false;
            }
            h += delta;
        }
        return true;
    }

    /// <summary>LevelDB's murmur-like 32-bit hash with its bloom seed.</summary>
    public static uint Hash(ReadOnlySpan<byte> data)
    {
        const uint Seed = 0xbc9f1d34;
        const uint M = 0xc6a4a793;
        uint h = Seed ^ ((uint)data.Length * M);
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            h += BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            h *= M;
            h ^= h >> 16;
        }
        int rest = data.Length - i;
        if (rest > 0)
        {
            h += Tail(data[i..], rest);
            h *= M;
            h ^= h >> 24;
        }
        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Tail(ReadOnlySpan<byte> d, int rest) => rest switch
    {
        3 => (uint)(d[2] << 16) + (uint)(d[1] << 8) + d[0],
        2 => (uint)(d[1] << 8) + d[0],
        _ => d[0],
    };
}
