using Kv.Storage.Iterators;

namespace Kv.Storage.Table;

/// <summary>Two-level iterator: walks the index block and, inside each entry, its data block.</summary>
internal sealed class TableIterator(TableReader table, Block index, bool fillCache) : IInternalIterator
{
    private readonly BlockIterator _index = index.NewIterator();
    private BlockIterator? _data;

    public bool Valid => _data is not null && _data.Valid;

    public ReadOnlySpan<byte> Key => _data!.Key;

    public ReadOnlySpan<byte> Value => _data!.Value;

    public void SeekToFirst()
    {
        _index.SeekToFirst();
        LoadBlock();
        _data?.SeekToFirst();
        SkipEmptyBlocks();
    }

    public void Seek(ReadOnlySpan<byte> target)
    {
        _index.Seek(target);
        LoadBlock();
        _data?.Seek(target);
        SkipEmptyBlocks();
    }

    public void Next()
    {
        _data!.Next();
        SkipEmptyBlocks();
    }

    private void SkipEmptyBlocks()
    {
        while (_data is not null && !_data.Valid)
        {
            _index.Next();
            LoadBlock();
            _data?.SeekToFirst();
        }
    }

    private void LoadBlock()
    {
        if (!_index.Valid)
        {
            _data = null;
            return;
        }
        Block block = table.GetDataBlock(TableReader.DecodeHandle(_index.Value, index), fillCache);
        _data = block.NewIterator();
    }

    public void Dispose()
    {
    }
}
