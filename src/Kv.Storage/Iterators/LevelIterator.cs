using Kv.Storage.Versions;

namespace Kv.Storage.Iterators;

/// <summary>Walks the sorted, non-overlapping files of one level, opening one table at a time.</summary>
internal sealed class LevelIterator(List<FileMetadata> files, TableCache tables, bool fillCache) : IInternalIterator
{
    private int _index = files.Count;
    private IInternalIterator? _current;

    public bool Valid => _current is not null && _current.Valid;

    public ReadOnlySpan<byte> Key => _current!.Key;

    public ReadOnlySpan<byte> Value => _current!.Value;

    public void SeekToFirst()
    {
        Open(0);
        _current?.SeekToFirst();
        SkipExhausted();
    }

    public void Seek(ReadOnlySpan<byte> target)
    {
        Open(Version.FindFile(files, target));
        _current?.Seek(target);
        SkipExhausted();
    }

    public void Next()
    {
        _current!.Next();
        SkipExhausted();
    }

    private void SkipExhausted()
    {
        while (_current is not null && !_current.Valid)
        {
            Open(_index + 1);
            _current?.SeekToFirst();
        }
    }

    private void Open(int index)
    {
        _current?.Dispose();
        _index = index;
        _current = index < files.Count ? tables.Get(files[index]).NewIterator(fillCache) : null;
    }

    public void Dispose() => _current?.Dispose();
}
