namespace Kv.Storage.Versions;

/// <summary>One table file as the MANIFEST records it.</summary>
internal sealed class FileMetadata(long number, long size, byte[] smallest, byte[] largest, long? orderNumber = null)
{
    public long Number { get; } = number;

    /// <summary>
    /// Where a level-0 file stands among level-0 files, which lookups read largest first (newest
    /// data first). It is the file's own number, except for a table rewritten by repair
    /// (<c>LsmEngine.RepairTable</c>): that one keeps the order number of the table it replaces,
    /// so that its new, higher file number does not put its older data ahead of newer level-0 files.
    /// Only level 0 uses it; the MANIFEST records it only when it differs from the number.
    /// </summary>
    public long OrderNumber { get; } = orderNumber ?? number;

    public long Size { get; } = size;

    /// <summary>Smallest internal key in the file.</summary>
    public byte[] Smallest { get; } = smallest;

    /// <summary>Largest internal key in the file.</summary>
    public byte[] Largest { get; } = largest;

    public ReadOnlySpan<byte> SmallestUserKey => InternalKey.UserKey(Smallest);

    public ReadOnlySpan<byte> LargestUserKey => InternalKey.UserKey(Largest);

    /// <summary>Whether the file's user-key range contains <paramref name="userKey"/>.</summary>
    public bool Covers(ReadOnlySpan<byte> userKey) =>
        userKey.SequenceCompareTo(SmallestUserKey) >= 0 && userKey.SequenceCompareTo(LargestUserKey) <= 0;

    /// <summary>Whether the file overlaps the user-key range [begin, end]; null bounds are open.</summary>
    public bool Overlaps(byte[]? beginUser, byte[]? endUser) =>
        !(beginUser is not null && LargestUserKey.SequenceCompareTo(beginUser) < 0)
        && !(endUser is not null && SmallestUserKey.SequenceCompareTo(endUser) > 0);
}
