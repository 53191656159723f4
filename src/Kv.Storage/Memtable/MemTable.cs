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
/// The in-memory write buffer: a skiplist of user keys, each with its versions newest first, plus
/// the WAL file that backs it, and a hash index from each user key to its node. A point lookup
/// costs a hash probe instead of a walk down the skiplist (a dozen dependent cache misses once
/// memtables outgrow the CPU cache), and so does a new version of a key already held: only a key
/// new to the memtable walks the list to be linked in. Iterators walk the list.
/// </summary>
internal sealed class MemTable
{
    private const int NodeOverhead = 64; // a node with its links, and its first version
    private const int VersionOverhead = 48; // a later version
    private const int IndexEntryOverhead = 32; // a slot, with the table at most half full
    private readonly SkipList _list;
    private readonly KeyIndex _index = new();
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
        // Sequences only grow, so the version just added is its key's newest. Readers see it no
        // earlier than its sequence is published, which happens after this returns.
        long overhead;
        SkipList.Node? node = _index.Get(userKey);
        if (node is null)
        {
            node = _list.Insert(new SkipList.Version(chunk, offset, keyLength, length, older: null));
            _index.Add(node);
            overhead = NodeOverhead + IndexEntryOverhead;
        }
        else
        {
            node.Push(new SkipList.Version(chunk, offset, keyLength, length, node.Newest));
            overhead = VersionOverhead;
        }
        Volatile.Write(ref _memoryUsage, _memoryUsage + length + overhead);
        Volatile.Write(ref _entries, _entries + 1);
    }

    /// <summary>
    /// Looks up the newest version of a user key visible at the lookup key's sequence. The value is
    /// the arena's own bytes (written once and never changed, so safe to keep and to share).
    /// </summary>
    public LookupResult Get(ReadOnlySpan<byte> lookupKey, out ReadOnlyMemory<byte> value)
    {
        value = default;
        SkipList.Node? node = _index.Get(InternalKey.UserKey(lookupKey));
        if (node is null)
        {
            return LookupResult.NotFound; // no version of the key at all
        }
        ulong sequence = InternalKey.SequenceOf(lookupKey);
        SkipList.Version? version = node.Newest;
        while (version is not null && InternalKey.SequenceOf(version.Key) > sequence)
        {
            version = version.Older; // a snapshot older than the newest version
        }
        if (version is null)
        {
            return LookupResult.NotFound;
        }
        if (InternalKey.TypeOf(version.Key) == EntryType.Deletion)
        {
            return LookupResult.Deleted;
        }
        value = version.ValueMemory;
        return LookupResult.Found;
    }

    public Iterators.IInternalIterator NewIterator() => new MemTableIterator(_list);
}
