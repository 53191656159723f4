using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Kv.Storage;

/// <summary>Kinds of entries in the tree; stored in the low byte of an internal key's tag.</summary>
internal enum EntryType : byte
{
    Deletion = 0,
    Value = 1,
}

/// <summary>
/// An internal key is the user key followed by a fixed64 tag = (sequence &lt;&lt; 8) | type.
/// Order: user key ascending (bytewise), then sequence descending, so the newest version comes first.
/// </summary>
internal static class InternalKey
{
    public const int TagSize = 8;
    public const ulong MaxSequence = (1UL << 56) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Tag(ulong sequence, EntryType type) => (sequence << 8) | (byte)type;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> UserKey(ReadOnlySpan<byte> internalKey) => internalKey[..^TagSize];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong TagOf(ReadOnlySpan<byte> internalKey) => BinaryPrimitives.ReadUInt64LittleEndian(internalKey[^TagSize..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SequenceOf(ReadOnlySpan<byte> internalKey) => TagOf(internalKey) >> 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static EntryType TypeOf(ReadOnlySpan<byte> internalKey) => (EntryType)(byte)TagOf(internalKey);

    public static byte[] Make(ReadOnlySpan<byte> userKey, ulong sequence, EntryType type)
    {
        var buf = new byte[userKey.Length + TagSize];
        userKey.CopyTo(buf);
        BinaryPrimitives.WriteUInt64LittleEndian(buf.AsSpan(userKey.Length), Tag(sequence, type));
        return buf;
    }

    /// <summary>The key to seek to for the newest version of <paramref name="userKey"/> visible at <paramref name="sequence"/>.</summary>
    public static byte[] ForSeek(ReadOnlySpan<byte> userKey, ulong sequence) => Make(userKey, sequence, EntryType.Value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int c = a[..^TagSize].SequenceCompareTo(b[..^TagSize]);
        if (c != 0)
        {
            return c;
        }
        ulong ta = BinaryPrimitives.ReadUInt64LittleEndian(a[^TagSize..]);
        ulong tb = BinaryPrimitives.ReadUInt64LittleEndian(b[^TagSize..]);
        return tb.CompareTo(ta);
    }

    /// <summary>Whether an internal key is long enough to carry a tag.</summary>
    public static bool IsValid(ReadOnlySpan<byte> internalKey) => internalKey.Length >= TagSize && (internalKey[^TagSize] <= 1);
}
