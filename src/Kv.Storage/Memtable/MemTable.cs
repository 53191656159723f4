using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace Kv.Storage.Memtable;

/// <summary>Result of a point lookup in one layer of the tree.</summary>
internal enum LookupResult
{
    NotFound,
    Found,
    Deleted,
}

/// <summary>
/// The in-memory write buffer: a skiplist plus the WAL file that backs it, and a hash index from
/// each user key to its newest node, so that a point lookup costs a hash probe instead of a walk
/// down the skiplist (a dozen dependent cache misses once memtables outgrow the CPU cache). The
/// walk remains for snapshot reads older than a key's newest version, and for iterators.
/// </summary>
internal sealed class MemTable
{
    private const int NodeOverhead = 64;
    private const int IndexEntryOverhead = 48;
    private readonly SkipList _list;
    private readonly ConcurrentDictionary<SkipList.Node, SkipList.Node> _newest = new(UserKeyComparer.Instance);
    private readonly ConcurrentDictionary<SkipList.Node, SkipList.Node>.AlternateLookup<ReadOnlySpan<byte>> _newestByKey;
    private long _memoryUsage;
    private long _entries;

    public MemTable(long walNumber, uint seed)
    {
        WalNumber = walNumber;
        _list = new SkipList(seed);
        _newestByKey = _newest.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Number of the WAL file whose records this memtable holds.</summary>
    public long WalNumber { get; }

    public long ApproximateMemoryUsage => Volatile.Read(ref _memoryUsage);

    public long Count => Volatile.Read(ref _entries);

    public bool IsEmpty => _list.First is null;

    /// <summary>Adds an entry. Single writer only.</summary>
    public void Add(ulong sequence, EntryType type, ReadOnlySpan<byte> userKey, ReadOnlySpan<byte> value)
    {
        int keyLength = userKey.Length + InternalKey.TagSize;
        var data = new byte[keyLength + value.Length];
        userKey.CopyTo(data);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(userKey.Length), InternalKey.Tag(sequence, type));
        value.CopyTo(data.AsSpan(keyLength));
        SkipList.Node node = _list.Insert(data, keyLength);
        // Sequences only grow, so the node just added is the key's newest. Readers see it no
        // earlier than its sequence is published, which happens after this returns.
        long overhead = NodeOverhead;
        if (_newest.TryAdd(node, node))
        {
            overhead += IndexEntryOverhead;
        }
        else
        {
            _newest[node] = node;
        }
        Volatile.Write(ref _memoryUsage, _memoryUsage + data.Length + overhead);
        Volatile.Write(ref _entries, _entries + 1);
    }

    /// <summary>Looks up the newest version of a user key visible at the lookup key's sequence.</summary>
    public LookupResult Get(ReadOnlySpan<byte> lookupKey, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!_newestByKey.TryGetValue(InternalKey.UserKey(lookupKey), out SkipList.Node? node))
        {
            return LookupResult.NotFound; // no version of the key at all
        }
        if (InternalKey.SequenceOf(node.Key) > InternalKey.SequenceOf(lookupKey))
        {
            node = _list.Seek(lookupKey); // a snapshot older than the newest version: walk
        }
        if (node is null)
        {
            return LookupResult.NotFound;
        }
        ReadOnlySpan<byte> key = node.Key;
        if (!InternalKey.UserKey(key).SequenceEqual(InternalKey.UserKey(lookupKey)))
        {
            return LookupResult.NotFound;
        }
        if (InternalKey.TypeOf(key) == EntryType.Deletion)
        {
            return LookupResult.Deleted;
        }
        value = node.Value;
        return LookupResult.Found;
    }

    public Iterators.IInternalIterator NewIterator() => new MemTableIterator(_list);

    /// <summary>Compares skiplist nodes by user key (the tag is ignored), and looks them up by a user key span.</summary>
    private sealed class UserKeyComparer : IEqualityComparer<SkipList.Node>, IAlternateEqualityComparer<ReadOnlySpan<byte>, SkipList.Node>
    {
        public static readonly UserKeyComparer Instance = new();

        public bool Equals(SkipList.Node? x, SkipList.Node? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && InternalKey.UserKey(x.Key).SequenceEqual(InternalKey.UserKey(y.Key)));

        public int GetHashCode(SkipList.Node node) => Hash(InternalKey.UserKey(node.Key));

        public bool Equals(ReadOnlySpan<byte> userKey, SkipList.Node node) => userKey.SequenceEqual(InternalKey.UserKey(node.Key));

        public int GetHashCode(ReadOnlySpan<byte> userKey) => Hash(userKey);

        public SkipList.Node Create(ReadOnlySpan<byte> userKey) =>
            throw new NotSupportedException("the index is filled with nodes, never from a bare key");

        private static int Hash(ReadOnlySpan<byte> userKey)
        {
            var h = new HashCode();
            h.AddBytes(userKey);
            return h.ToHashCode();
        }
    }
}
