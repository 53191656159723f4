using System.Runtime.CompilerServices;

namespace Kv.Storage.Memtable;

/// <summary>
/// A skiplist of user keys with one writer and any number of lock-free readers (LevelDB's design:
/// height 12, branching 4). Each node holds every version of its user key in a chain, newest
/// first, which is internal-key order (sequence descending); so a new version of a key already
/// present is one reference store at its node (found through the memtable's hash index) instead
/// of a walk down the list, and the list's comparisons are between user keys only.
/// A node or version is fully built before it is published with a release store, so a reader sees
/// either the old list or the new entry complete.
/// </summary>
internal sealed class SkipList
{
    private const int MaxHeight = 12;
    private readonly Node _head = new(new Version([], 0, InternalKey.TagSize, InternalKey.TagSize, null), MaxHeight);
    private readonly Node?[] _prev = new Node?[MaxHeight];
    private int _height = 1;
    private uint _rng;

    public SkipList(uint seed) => _rng = seed == 0 ? 0xdeadbeef : seed;

    /// <summary>
    /// One version: its internal key then its value, <c>Length</c> bytes at <c>Offset</c> in
    /// <c>Chunk</c> (an arena's), and the next older version of the same user key.
    /// </summary>
    internal sealed class Version(byte[] chunk, int offset, int keyLength, int length, Version? older)
    {
        public readonly byte[] Chunk = chunk;
        public readonly int Offset = offset;
        public readonly int KeyLength = keyLength;
        public readonly int Length = length;
        public readonly Version? Older = older;

        public ReadOnlySpan<byte> Key => Chunk.AsSpan(Offset, KeyLength);

        public ReadOnlySpan<byte> Value => Chunk.AsSpan(Offset + KeyLength, Length - KeyLength);

        /// <summary>The value as memory over the arena chunk (written once, never changed).</summary>
        public ReadOnlyMemory<byte> ValueMemory => Chunk.AsMemory(Offset + KeyLength, Length - KeyLength);
    }

    /// <summary>A user key's node: its versions, newest first, and its links.</summary>
    internal sealed class Node
    {
        // The user key's bytes, from the first version (arena bytes never move).
        private readonly byte[] _chunk;
        private readonly int _offset;
        private readonly int _userKeyLength;
        private Version _newest;

        public readonly Node?[] Next;

        public Node(Version first, int height)
        {
            _chunk = first.Chunk;
            _offset = first.Offset;
            _userKeyLength = first.KeyLength - InternalKey.TagSize;
            _newest = first;
            Next = new Node?[height];
        }

        public ReadOnlySpan<byte> UserKey => _chunk.AsSpan(_offset, _userKeyLength);

        /// <summary>The newest version published so far (newer ones may follow at any time).</summary>
        public Version Newest => Volatile.Read(ref _newest);

        /// <summary>Publishes a version built on <see cref="Newest"/>. Single writer only.</summary>
        public void Push(Version version)
        {
            if (!ReferenceEquals(version.Older, _newest))
            {
                throw new InvalidOperationException("a version must be built on the node's newest one");
            }
            Volatile.Write(ref _newest, version);
        }
    }

    /// <summary>
    /// Inserts a node for a user key not in the list yet, with <paramref name="first"/> as its only
    /// version, and returns it; the caller guarantees one writer and that the key is absent.
    /// </summary>
    public Node Insert(Version first)
    {
        Node?[] prev = _prev;
        var node = new Node(first, RandomHeight());
        FindGreaterOrEqual(node.UserKey, prev);
        int height = node.Next.Length;
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
            node.Next[i] = prev[i]!.Next[i];
            Volatile.Write(ref prev[i]!.Next[i], node);
        }
        return node;
    }

    /// <summary>First node whose user key is >= <paramref name="userKey"/>, or null.</summary>
    public Node? Seek(ReadOnlySpan<byte> userKey) => FindGreaterOrEqual(userKey, default);

    public Node? First => Volatile.Read(ref _head.Next[0]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Node? NextOf(Node node) => Volatile.Read(ref node.Next[0]);

    private Node? FindGreaterOrEqual(ReadOnlySpan<byte> userKey, Span<Node?> prev)
    {
        Node x = _head;
        int level = Volatile.Read(ref _height) - 1;
        while (true)
        {
            Node? next = Volatile.Read(ref x.Next[level]);
            if (next is not null && next.UserKey.SequenceCompareTo(userKey) < 0)
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
