using Kv.Storage.Iterators;

namespace Kv.Storage.Memtable;

/// <summary>
/// Forward iterator over a memtable in internal-key order: the skiplist's user keys in order, and
/// each key's versions newest first. Safe while the writer keeps inserting (entries newer than the
/// reader's sequence may appear; the layers above skip them, as with any memtable).
/// </summary>
internal sealed class MemTableIterator(SkipList list) : IInternalIterator
{
    private SkipList.Node? _node;
    private SkipList.Version? _version;

    public bool Valid => _version is not null;

    public ReadOnlySpan<byte> Key => _version!.Key;

    public ReadOnlySpan<byte> Value => _version!.Value;

    public void SeekToFirst() => MoveTo(list.First);

    public void Seek(ReadOnlySpan<byte> target)
    {
        SkipList.Node? node = list.Seek(InternalKey.UserKey(target));
        if (node is null || !node.UserKey.SequenceEqual(InternalKey.UserKey(target)))
        {
            MoveTo(node);
            return;
        }
        // Same user key: the first version at or below the target's sequence, else the next key.
        SkipList.Version? version = node.Newest;
        while (version is not null && InternalKey.Compare(version.Key, target) < 0)
        {
            version = version.Older;
        }
        if (version is null)
        {
            MoveTo(SkipList.NextOf(node));
            return;
        }
        _node = node;
        _version = version;
    }

    public void Next()
    {
        _version = _version!.Older;
        if (_version is null)
        {
            MoveTo(SkipList.NextOf(_node!));
        }
    }

    public void Dispose()
    {
    }

    private void MoveTo(SkipList.Node? node)
    {
        _node = node;
        _version = node?.Newest;
    }
}
