namespace Kv.Storage.Versions;

/// <summary>One table file as the MANIFEST records it.</summary>
internal sealed class FileMetadata(long number, long size, byte[] smallest, byte[] largest)
{
    public long Number { get; } = number;

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
