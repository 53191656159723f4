using Kv.Storage.Iterators;

namespace Kv.Storage.Memtable;

/// <summary>
/// Forward iterator over a memtable in internal-key order: the skiplist's user keys in order, and
/// each key's versions newest first. Safe while the writer keeps inserting (entries newer than the
/// reader's sequence may appear; the layers above skip them, as with any memtable).
/// </summary>
internal sealed class MemTableIterator(SkipList list) : IInternalIterator
{
    private long _node;
    private long _version;

    public bool Valid => _version != 0;

    public ReadOnlySpan<byte> Key => list.Key(_version);

    public ReadOnlySpan<byte> Value => list.Value(_version);

    public void SeekToFirst() => MoveTo(list.First);

    public void Seek(ReadOnlySpan<byte> target)
    {
        long node = list.Seek(InternalKey.UserKey(target));
        if (node == 0 || !list.UserKey(node).SequenceEqual(InternalKey.UserKey(target)))
        {
            MoveTo(node);
            return;
        }
        // Same user key: the first version at or below the target's sequence, else the next key.
        long version = list.Newest(node);
        while (version != 0 && InternalKey.Compare(list.Key(version), target) < 0)
        {
            version = list.Older(version);
        }
        if (version == 0)
        {
            MoveTo(list.NextOf(node));
            return;
        }
        _node = node;
        _version = version;
    }

    public void Next()
    {
        _version = list.Older(_version);
        if (_version == 0)
        {
            MoveTo(list.NextOf(_node));
        }
    }

    public void Dispose()
    {
    }

    private void MoveTo(long node)
    {
        _node = node;
        _version = node == 0 ? 0 : list.Newest(node);
    }
}
