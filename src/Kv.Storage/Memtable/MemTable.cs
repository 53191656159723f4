using System.Buffers.Binary;

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
    private const int IndexEntryOverhead = 32; // a slot, with the table at most half full
    private readonly SkipList _list;
    private readonly NewestIndex _newest = new();
    private readonly Arena _arena = new();
    private long _memoryUsage;
    private long _entries;

    public MemTable(long walNumber, uint seed)
    {
        WalNumber = walNumber;
        _list = new SkipList(seed);
    }

    /// <summary>Number of the WAL file whose records this memtable holds.</summary>
    public long WalNumber { get; }

    /// <summary>With a shared commit log, set when sealed: the last sequence it holds.</summary>
    public ulong SealedSequence { get; set; }

    /// <summary>With a shared commit log, set when sealed: the commit-log position of its last write.</summary>
    public long SealedPosition { get; set; }

    public long ApproximateMemoryUsage => Volatile.Read(ref _memoryUsage);

    public long Count => Volatile.Read(ref _entries);

    public bool IsEmpty => _list.First is null;

    /// <summary>Adds an entry. Single writer only.</summary>
    public void Add(ulong sequence, EntryType type, ReadOnlySpan<byte> userKey, ReadOnlySpan<byte> value)
    {
        int keyLength = userKey.Length + InternalKey.TagSize;
        int length = keyLength + value.Length;
        byte[] chunk = _arena.Allocate(length, out int offset);
        var data = chunk.AsSpan(offset, length);
        userKey.CopyTo(data);
        BinaryPrimitives.WriteUInt64LittleEndian(data[userKey.Length..], InternalKey.Tag(sequence, type));
        value.CopyTo(data[keyLength..]);
        SkipList.Node node = _list.Insert(chunk, offset, keyLength, length);
        // Sequences only grow, so the node just added is the key's newest. Readers see it no
        // earlier than its sequence is published, which happens after this returns.
        long overhead = _newest.Set(node) ? NodeOverhead + IndexEntryOverhead : NodeOverhead;
        Volatile.Write(ref _memoryUsage, _memoryUsage + length + overhead);
        Volatile.Write(ref _entries, _entries + 1);
    }

    /// <summary>Looks up the newest version of a user key visible at the lookup key's sequence.</summary>
    public LookupResult Get(ReadOnlySpan<byte> lookupKey, out ReadOnlySpan<byte> value)
    {
        value = default;
        SkipList.Node? node = _newest.Get(InternalKey.UserKey(lookupKey));
        if (node is null)
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
}
