using Kv.Storage.Iterators;

namespace Kv.Storage.Memtable;

/// <summary>Forward iterator over a memtable's skiplist; safe while the writer keeps inserting.</summary>
internal sealed class MemTableIterator(SkipList list) : IInternalIterator
{
    private SkipList.Node? _node;

    public bool Valid => _node is not null;

    public ReadOnlySpan<byte> Key => _node!.Key;

    public ReadOnlySpan<byte> Value => _node!.Value;

    public void SeekToFirst() => _node = list.First;

    public void Seek(ReadOnlySpan<byte> target) => _node = list.Seek(target);

    public void Next() => _node = SkipList.NextOf(_node!);

    public void Dispose()
    {
    }
}
