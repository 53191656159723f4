namespace Kv.Storage.Memtable;

/// <summary>
/// Where a memtable's entries live: large chunks handed out in order (LevelDB's and RocksDB's
/// arena). Entries are written once and live exactly as long as their memtable, so one array per
/// entry only gave the garbage collector megabytes of small arrays to copy from generation to
/// generation at every collection while the memtable filled; a chunk is one object, and from
/// 128 KiB on it is allocated in the large-object heap, which collections of the young
/// generations do not copy. Not thread-safe:
/// the memtable's single writer allocates; readers only read what was published.
/// </summary>
internal sealed class Arena
{
    /// <summary>The first chunk's size; each next one is twice the last, up to <see cref="MaxChunk"/>
    /// (a node holds a memtable per vnode, most of them small).</summary>
    public const int FirstChunk = 32 << 10;

    /// <summary>The largest chunk: in the large-object heap, small against a full memtable.</summary>
    public const int MaxChunk = 1 << 20;

    /// <summary>Entries above this get an array of their own (not to waste the rest of a chunk).</summary>
    public const int LargeEntry = 128 << 10;

    private byte[]? _chunk;
    private int _used;
    private int _nextChunk = FirstChunk;

    /// <summary>Bytes reserved in chunks (and large entries) so far.</summary>
    public long Reserved { get; private set; }

    /// <summary>Reserves <paramref name="length"/> bytes: the array and the offset where they start.</summary>
    public byte[] Allocate(int length, out int offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > LargeEntry)
        {
            Reserved += length;
            offset = 0;
            return GC.AllocateUninitializedArray<byte>(length);
        }
        if (_chunk is null || _chunk.Length - _used < length)
        {
            _chunk = GC.AllocateUninitializedArray<byte>(Math.Max(_nextChunk, length));
            _nextChunk = Math.Min(_nextChunk * 2, MaxChunk);
            _used = 0;
            Reserved += _chunk.Length;
        }
        offset = _used;
        _used += length;
        return _chunk;
    }
}
