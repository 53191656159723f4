using System.Numerics;
using System.Buffers.Binary;

namespace Kv.Actors.Ring;

/// <summary>
/// The stable position of a key on the ring: SHA-1 (as Riak) of the length-prefixed namespace and
/// the key, top 64 bits. The same on every process and machine (never string.GetHashCode).
/// </summary>
public static class KeyHash
{
    /// <summary>The 64-bit ring position of (namespace, key).</summary>
    public static ulong Of(ReadOnlySpan<byte> ns, ReadOnlySpan<byte> key)
    {
        // u32 length of the namespace, the namespace, then the key: ("ab","c") never equals ("a","bc").
        int length = 4 + ns.Length + key.Length;
        byte[]? rented = null;
        Span<byte> input = length <= 1024 ? stackalloc byte[length] : (rented = new byte[length]);
        BinaryPrimitives.WriteUInt32BigEndian(input, (uint)ns.Length);
        ns.CopyTo(input[4..]);
        key.CopyTo(input[(4 + ns.Length)..]);
        return Sha1.Prefix64(input[..length]);
    }

    /// <summary>The partition (0..q-1) a ring position falls in: q equal slices of the 64-bit space.</summary>
    public static int PartitionOf(ulong position, int q) => (int)(position >> (64 - BitOperations.Log2((uint)q)));

    /// <summary>The partition of (namespace, key) on a ring of <paramref name="q"/> partitions.</summary>
    public static int PartitionOf(ReadOnlySpan<byte> ns, ReadOnlySpan<byte> key, int q) => PartitionOf(Of(ns, key), q);
}
