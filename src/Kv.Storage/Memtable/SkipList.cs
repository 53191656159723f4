using System.Runtime.CompilerServices;

namespace Kv.Storage.Memtable;

/// <summary>
/// A skiplist of internal-key entries with one writer and any number of lock-free readers
/// (LevelDB's design: height 12, branching 4). A node is fully built before it is linked in with
/// a release store, so a reader sees either the old list or the new node complete.
/// Each node holds internal key and value in one array to halve allocations.
/// </summary>
internal sealed class SkipList
{
    private const int MaxHeight = 12;
    private readonly Node _head = new([], 0, 0, 0, MaxHeight);
    private readonly Node?[] _prev = new Node?[MaxHeight];
    private int _height = 1;
    private uint _rng;

    public SkipList(uint seed) => _rng = seed == 0 ? 0xdeadbeef : seed;

    /// <summary>An entry: its internal key then its value, <c>Length</c> bytes at <c>Offset</c> in <c>Chunk</c> (an arena's).</summary>
    internal sealed class Node(byte[] chunk, int offset, int keyLength, int length, int height)
    {
        public readonly byte[] Chunk = chunk;
        public readonly int Offset = offset;
        public readonly int KeyLength = keyLength;
        public readonly int Length = length;
        public readonly Node?[] Next = new Node?[height];

        public ReadOnlySpan<byte> Key => Chunk.AsSpan(Offset, KeyLength);

        public ReadOnlySpan<byte> Value => Chunk.AsSpan(Offset + KeyLength, Length - KeyLength);
    }

    /// <summary>Inserts an entry and returns its node; the caller guarantees one writer and no duplicate internal keys.</summary>
    public Node Insert(byte[] chunk, int offset, int keyLength, int length)
    {
        Node?[] prev = _prev;
        ReadOnlySpan<byte> key = chunk.AsSpan(offset, keyLength);
        FindGreaterOrEqual(key, prev);
        int height = RandomHeight();
        int current = _height;
        if (height > current)
        {
            for (int i = current; i < height; i++)
            {
                prev[i] = _head;
            }
            Volatile.Write(ref _height, height);
        }
        var node = new Node(chunk, offset, keyLength, length, height);
        for (int i = 0; i < height; i++)
        {
            node.Next[i] = prev[i]!.Next[i];
            Volatile.Write(ref prev[i]!.Next[i], node);
        }
        return node;
    }

    /// <summary>First node with key >= <paramref name="key"/>, or null.</summary>
    public Node? Seek(ReadOnlySpan<byte> key) => FindGreaterOrEqual(key, default);

    public Node? First => Volatile.Read(ref _head.Next[0]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Node? NextOf(Node node) => Volatile.Read(ref node.Next[0]);

    private Node? FindGreaterOrEqual(ReadOnlySpan<byte> key, Span<Node?> prev)
    {
        Node x = _head;
        int level = Volatile.Read(ref _height) - 1;
        while (true)
        {
            Node? next = Volatile.Read(ref x.Next[level]);
            if (next is not null && InternalKey.Compare(next.Key, key) < 0)
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
