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
/// new to the memtable walks the list to be linked in. Iterators walk the list. Entries, nodes
/// and version links are all records in the memtable's arena (see <see cref="Arena"/>): a
/// memtable is a few objects however many entries it holds.
/// </summary>
internal sealed class MemTable
{
    private const int IndexEntryOverhead = 32; // a slot, with the table at most half full
    private readonly Arena _arena = new();
    private readonly SkipList _list;
    private readonly KeyIndex _index;
    private long _memoryUsage;
    private long _entries;

    public MemTable(long walNumber, uint seed)
    {
        WalNumber = walNumber;
        _list = new SkipList(_arena, seed);
        _index = new KeyIndex(_list);
    }

    /// <summary>Number of the WAL file whose records this memtable holds.</summary>
    public long WalNumber { get; }

    /// <summary>With a shared commit log, set when sealed: the last sequence it holds.</summary>
    public ulong SealedSequence { get; set; }

    /// <summary>With a shared commit log, set when sealed: the commit-log position of its last write.</summary>
    public long SealedPosition { get; set; }

    public long ApproximateMemoryUsage => Volatile.Read(ref _memoryUsage);

    public long Count => Volatile.Read(ref _entries);

    public bool IsEmpty => _list.First == 0;

    /// <summary>Adds an entry. Single writer only.</summary>
    public void Add(ulong sequence, EntryType type, ReadOnlySpan<byte> userKey, ReadOnlySpan<byte> value)
    {
        // Sequences only grow, so the version added is its key's newest. Readers see it no earlier
        // than its sequence is published, which happens after this returns.
        ulong tag = InternalKey.Tag(sequence, type);
        long node = _index.Get(userKey);
        int bytes;
        if (node == 0)
        {
            node = _list.Insert(userKey, tag, value, out bytes);
            _index.Add(node);
            bytes += IndexEntryOverhead;
        }
        else
        {
            _list.Push(node, userKey, tag, value, out bytes);
        }
        Volatile.Write(ref _memoryUsage, _memoryUsage + bytes);
        Volatile.Write(ref _entries, _entries + 1);
    }

    /// <summary>
    /// Looks up the newest version of a user key visible at the lookup key's sequence. The value is
    /// the arena's own bytes (written once and never changed, so safe to keep and to share).
    /// </summary>
    public LookupResult Get(ReadOnlySpan<byte> lookupKey, out ReadOnlyMemory<byte> value)
    {
        value = default;
        long node = _index.Get(InternalKey.UserKey(lookupKey));
        if (node == 0)
        {
            return LookupResult.NotFound; // no version of the key at all
        }
        ulong sequence = InternalKey.SequenceOf(lookupKey);
        long version = _list.Newest(node);
        while (version != 0 && InternalKey.SequenceOf(_list.Key(version)) > sequence)
        {
            version = _list.Older(version); // a snapshot older than the newest version
        }
        if (version == 0)
        {
            return LookupResult.NotFound;
        }
        if (InternalKey.TypeOf(_list.Key(version)) == EntryType.Deletion)
        {
            return LookupResult.Deleted;
        }
        value = _list.ValueMemory(version);
        return LookupResult.Found;
    }

    public Iterators.IInternalIterator NewIterator() => new MemTableIterator(_list);
}
