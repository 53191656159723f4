using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Kv.Storage.Memtable;

/// <summary>
/// A skiplist of user keys with one writer and any number of lock-free readers (LevelDB's design:
/// height 12, branching 4, nodes allocated in the memtable's arena). Each node holds every version
/// of its user key in a chain, newest first, which is internal-key order (sequence descending); so
/// a new version of a key already present is one link store at its node (found through the
/// memtable's hash index) instead of a walk down the list, and the list's comparisons are between
/// user keys only.
/// <para>
/// Nodes and versions are records in the <see cref="Arena"/>, named by arena references (0: none):
/// a node is <c>[newest version: 8][height: 4][user key length: 4][next: 8 x height]</c> followed by
/// its first version; a version is <c>[older version: 8][internal key length: 4][entry length: 4]
/// [internal key, value]</c>. A record is fully written before a link to it is published with a
/// release store, so a reader sees either the old list or the new entry complete; a version's
/// fields never change once published.
/// </para>
/// </summary>
internal sealed class SkipList
{
    private const int MaxHeight = 12;
    private const int NodeHeader = 16;

    /// <summary>Bytes a version record adds to its entry.</summary>
    public const int VersionHeader = 16;

    private readonly Arena _arena;
    private readonly long _head;
    private readonly long[] _prev = new long[MaxHeight];
    private int _height = 1;
    private uint _rng;

    public SkipList(Arena arena, uint seed)
    {
        _arena = arena;
        _rng = seed == 0 ? 0xdeadbeef : seed;
        byte[] chunk = arena.Allocate(NodeHeader + (8 * MaxHeight), out int offset, out _head);
        Arena.Word(chunk, offset) = 0;
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(offset + 8), MaxHeight);
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(offset + 12), 0);
        for (int i = 0; i < MaxHeight; i++)
        {
            Arena.Word(chunk, offset + NodeHeader + (8 * i)) = 0;
        }
    }

    /// <summary>
    /// Adds a node for a user key not in the list yet, with one version (internal key and value,
    /// the key's tag given), and returns it with the arena bytes it took; the caller guarantees one
    /// writer and that the key is absent.
    /// </summary>
    public long Insert(ReadOnlySpan<byte> userKey, ulong tag, ReadOnlySpan<byte> value, out int bytes)
    {
        int height = RandomHeight();
        int nodeLength = NodeHeader + (8 * height);
        int entryLength = userKey.Length + InternalKey.TagSize + value.Length;
        bytes = nodeLength + VersionHeader + entryLength;
        byte[] chunk = _arena.Allocate(bytes, out int offset, out long node);
        long version = node + nodeLength; // same chunk, right after the node
        WriteVersion(chunk, offset + nodeLength, older: 0, userKey, tag, value);
        Arena.Word(chunk, offset) = version;
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(offset + 8), height);
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(offset + 12), userKey.Length);

        long[] prev = _prev;
        FindGreaterOrEqual(userKey, prev);
        int current = _height;
        if (height > current)
        {
            for (int i = current; i < height; i++)
            {
                prev[i] = _head;
            }
            Volatile.Write(ref _height, height);
        }
        for (int i = 0; i < height; i++)
        {
            // The new node's link first (not yet reachable), then the release store that publishes it.
            Arena.Word(chunk, offset + NodeHeader + (8 * i)) = Next(prev[i], i);
            byte[] before = _arena.Chunk(prev[i]);
            Volatile.Write(ref Arena.Word(before, Arena.Offset(prev[i]) + NodeHeader + (8 * i)), node);
        }
        return node;
    }

    /// <summary>Publishes a new version of <paramref name="node"/>'s key, built on its newest one. Single writer only.</summary>
    public void Push(long node, ReadOnlySpan<byte> userKey, ulong tag, ReadOnlySpan<byte> value, out int bytes)
    {
        bytes = VersionHeader + userKey.Length + InternalKey.TagSize + value.Length;
        byte[] chunk = _arena.Allocate(bytes, out int offset, out long version);
        WriteVersion(chunk, offset, Newest(node), userKey, tag, value);
        byte[] at = _arena.Chunk(node);
        Volatile.Write(ref Arena.Word(at, Arena.Offset(node)), version);
    }

    /// <summary>First node whose user key is >= <paramref name="userKey"/>, or 0.</summary>
    public long Seek(ReadOnlySpan<byte> userKey) => FindGreaterOrEqual(userKey, default);

    public long First => Next(_head, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long NextOf(long node) => Next(node, 0);

    /// <summary>A node's user key (arena bytes, never changed).</summary>
    public ReadOnlySpan<byte> UserKey(long node)
    {
        byte[] chunk = _arena.Chunk(node);
        int offset = Arena.Offset(node);
        int height = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(offset + 8));
        int length = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(offset + 12));
        return chunk.AsSpan(offset + NodeHeader + (8 * height) + VersionHeader, length);
    }

    /// <summary>The newest version published so far (newer ones may follow at any time).</summary>
    public long Newest(long node) => Volatile.Read(ref Arena.Word(_arena.Chunk(node), Arena.Offset(node)));

    /// <summary>The next older version of the same user key, or 0.</summary>
    public long Older(long version) => Arena.Word(_arena.Chunk(version), Arena.Offset(version));

    /// <summary>A version's internal key.</summary>
    public ReadOnlySpan<byte> Key(long version)
    {
        byte[] chunk = _arena.Chunk(version);
        int offset = Arena.Offset(version);
        return chunk.AsSpan(offset + VersionHeader, BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(offset + 8)));
    }

    /// <summary>A version's value.</summary>
    public ReadOnlySpan<byte> Value(long version) => ValueMemory(version).Span;

    /// <summary>A version's value as memory over the arena chunk (written once, never changed).</summary>
    public ReadOnlyMemory<byte> ValueMemory(long version)
    {
        byte[] chunk = _arena.Chunk(version);
        int offset = Arena.Offset(version);
        int keyLength = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(offset + 8));
        int length = BinaryPrimitives.ReadInt32LittleEndian(chunk.AsSpan(offset + 12));
        return chunk.AsMemory(offset + VersionHeader + keyLength, length - keyLength);
    }

    private static void WriteVersion(byte[] chunk, int offset, long older, ReadOnlySpan<byte> userKey, ulong tag, ReadOnlySpan<byte> value)
    {
        int keyLength = userKey.Length + InternalKey.TagSize;
        Arena.Word(chunk, offset) = older;
        var header = chunk.AsSpan(offset + 8, 8);
        BinaryPrimitives.WriteInt32LittleEndian(header, keyLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], keyLength + value.Length);
        var data = chunk.AsSpan(offset + VersionHeader, keyLength + value.Length);
        userKey.CopyTo(data);
        BinaryPrimitives.WriteUInt64LittleEndian(data[userKey.Length..], tag);
        value.CopyTo(data[keyLength..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Next(long node, int level) =>
        Volatile.Read(ref Arena.Word(_arena.Chunk(node), Arena.Offset(node) + NodeHeader + (8 * level)));

    private long FindGreaterOrEqual(ReadOnlySpan<byte> userKey, Span<long> prev)
    {
        long x = _head;
        int level = Volatile.Read(ref _height) - 1;
        while (true)
        {
            long next = Next(x, level);
            if (next != 0 && UserKey(next).SequenceCompareTo(userKey) < 0)
            {
                x = next;
                continue;
            }
            if (!prev.IsEmpty)
            {
                prev[level] = x;
            }
            if (level == 0)
            {
                return next;
            }
            level--;
        }
    }

    private int RandomHeight()
    {
        int height = 1;
        while (height < MaxHeight && (NextRandom() & 3) == 0)
        {
            height++;
        }
        return height;
    }

    private uint NextRandom()
    {
        uint x = _rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _rng = x;
        return x;
    }
}
