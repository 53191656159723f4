using System.Buffers.Binary;
using System.Numerics;

namespace Kv.Actors.Ring;

/// <summary>
/// SHA-1 (FIPS 180-4) in managed code, for ring placement only. Every request hashes its key once
/// on the client and once on the node; going through the platform's crypto library cost ~1.5% of a
/// busy cluster's CPU for short keys (one native context created, used and freed per call), this
/// costs a few hundred nanoseconds. Not for security: placement needs a stable, well-spread hash.
/// </summary>
internal static class Sha1
{
    /// <summary>The first 8 bytes of SHA-1(<paramref name="data"/>), big-endian.</summary>
    public static ulong Prefix64(ReadOnlySpan<byte> data)
    {
        Span<uint> h = [0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u];
        Span<uint> w = stackalloc uint[80];
        int full = data.Length / 64;
        for (int i = 0; i < full; i++)
            Block(h, data.Slice(i * 64, 64), w);

        // The tail, a 0x80 byte, zeros, and the length in bits: one block, or two if the tail leaves no room.
        Span<byte> last = stackalloc byte[128];
        last.Clear();
        var tail = data[(full * 64)..];
        tail.CopyTo(last);
        last[tail.Length] = 0x80;
        int blocks = tail.Length + 1 + 8 <= 64 ? 1 : 2;
        BinaryPrimitives.WriteUInt64BigEndian(last.Slice(blocks * 64 - 8, 8), (ulong)data.Length * 8);
        for (int i = 0; i < blocks; i++)
            Block(h, last.Slice(i * 64, 64), w);
        return ((ulong)h[0] << 32) | h[1];
    }

    private static void Block(Span<uint> h, ReadOnlySpan<byte> block, Span<uint> w)
    {
        for (int t = 0; t < 16; t++)
            w[t] = BinaryPrimitives.ReadUInt32BigEndian(block.Slice(t * 4, 4));
        for (int t = 16; t < 80; t++)
            w[t] = BitOperations.RotateLeft(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        uint a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int t = 0; t < 80; t++)
        {
            uint f, k;
            if (t < 20)
            {
                f = (b & c) | (~b & d);
                k = 0x5A827999u;
            }
            else if (t < 40)
            {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1u;
            }
            else if (t < 60)
            {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDCu;
            }
            else
            {
                f = b ^ c ^ d;
                k = 0xCA62C1D6u;
            }
            uint temp = BitOperations.RotateLeft(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = BitOperations.RotateLeft(b, 30);
            b = a;
            a = temp;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
}
