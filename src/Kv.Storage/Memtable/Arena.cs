using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kv.Storage.Memtable;

/// <summary>
/// Where a memtable lives: large chunks handed out in order (LevelDB's and RocksDB's arena). Not
/// only the entries' bytes but the skiplist's nodes and version links are records in the chunks,
/// linked by <see cref="long"/> references (chunk number and offset) instead of object references.
/// A filling memtable therefore is a few large arrays without a single reference in them: the
/// garbage collector neither copies its entries from generation to generation nor, at every young
/// collection, scans the old objects whose links a write changed to point at new ones (with a node
/// and a version object per write, those card scans were most of each young collection under A).
/// From 128 KiB on a chunk is in the large-object heap, which young collections do not copy.
/// Not thread-safe: the memtable's single writer allocates; readers resolve references to what
/// was published (a chunk is listed before any reference into it is published).
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

    private byte[][] _chunks = new byte[8][]; // by number - 1; replaced whole when it grows
    private int _count;
    private byte[]? _chunk;
    private int _chunkNumber;
    private int _used;
    private int _nextChunk = FirstChunk;

    /// <summary>Bytes reserved in chunks (and large entries) so far.</summary>
    public long Reserved { get; private set; }

    /// <summary>
    /// Reserves <paramref name="length"/> bytes starting at an 8-byte boundary (so that the links
    /// stored there are read and written whole): the array, the offset, and the reference that
    /// <see cref="Chunk"/> resolves.
    /// </summary>
    public byte[] Allocate(int length, out int offset, out long reference)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > LargeEntry)
        {
            Reserved += length;
            offset = 0;
            byte[] own = GC.AllocateUninitializedArray<byte>(length);
            reference = Reference(List(own), 0);
            return own;
        }
        int start = (_used + 7) & ~7;
        if (_chunk is null || _chunk.Length - start < length)
        {
            _chunk = GC.AllocateUninitializedArray<byte>(Math.Max(_nextChunk, length));
            _chunkNumber = List(_chunk);
            _nextChunk = Math.Min(_nextChunk * 2, MaxChunk);
            Reserved += _chunk.Length;
            start = 0;
        }
        offset = start;
        _used = start + length;
        reference = Reference(_chunkNumber, start);
        return _chunk;
    }

    /// <summary>The chunk a published reference points into.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte[] Chunk(long reference) => Volatile.Read(ref _chunks)[(int)(reference >> 32) - 1];

    /// <summary>The offset in its chunk of what a reference points at.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Offset(long reference) => (int)reference;

    /// <summary>The 8 bytes at an 8-byte-aligned offset, as a location to read and write whole.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref long Word(byte[] chunk, int offset) =>
        ref Unsafe.As<byte, long>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(chunk), offset));

    private static long Reference(int number, int offset) => ((long)number << 32) | (uint)offset;

    /// <summary>Lists a chunk (before anything in it can be referenced) and returns its number (from 1; 0 is no reference).</summary>
    private int List(byte[] chunk)
    {
        byte[][] chunks = _chunks;
        if (_count == chunks.Length)
        {
            var bigger = new byte[chunks.Length * 2][];
            Array.Copy(chunks, bigger, _count);
            bigger[_count] = chunk;
            Volatile.Write(ref _chunks, bigger);
        }
        else
        {
            Volatile.Write(ref chunks[_count], chunk);
        }
        return ++_count;
    }
}
