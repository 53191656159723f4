using System.Buffers.Binary;
using System.Text;
using Kv.Storage.IO;
using Kv.Storage.Util;

namespace Kv.Storage.Table;

/// <summary>
/// Writes a sorted run of internal-key entries as a table: data blocks, bloom filter block,
/// properties block, metaindex, index, footer. Every block carries a type byte and a masked CRC32C.
/// </summary>
internal sealed class TableBuilder : IDisposable
{
    private readonly IWritableFile _file;
    private readonly int _blockSize;
    private readonly int _bitsPerKey;
    private readonly BlockBuilder _data = new(16);
    private readonly BlockBuilder _index = new(1);
    private readonly List<uint> _keyHashes = [];
    private readonly byte[] _trailer = new byte[TableFormat.BlockTrailerSize];
    private readonly byte[] _handleBuffer = new byte[BlockHandle.MaxEncodedLength];
    private byte[] _lastUserKey = [];
    private bool _hasLastUserKey;
    private long _offset;
    private long _deletions;
    private long _rawKeyBytes;
    private long _rawValueBytes;
    private long _dataBlocks;
    private bool _finished;

    public TableBuilder(IWritableFile file, int blockSize, int bitsPerKey)
    {
        _file = file;
        _blockSize = blockSize;
        _bitsPerKey = bitsPerKey;
    }

    public long Entries { get; private set; }

    /// <summary>Bytes written so far plus the data block being built.</summary>
    public long FileSize => _finished ? _offset : _offset + _data.CurrentSizeEstimate;

    public byte[]? Smallest { get; private set; }

    public byte[]? Largest { get; private set; }

    public void Add(ReadOnlySpan<byte> internalKey, ReadOnlySpan<byte> value)
    {
        Smallest ??= internalKey.ToArray();
        ReadOnlySpan<byte> userKey = InternalKey.UserKey(internalKey);
        if (!_hasLastUserKey || !userKey.SequenceEqual(_lastUserKey))
        {
            _keyHashes.Add(BloomFilter.Hash(userKey));
            _lastUserKey = userKey.ToArray();
            _hasLastUserKey = true;
        }
        _data.Add(internalKey, value);
        Entries++;
        if (InternalKey.TypeOf(internalKey) == EntryType.Deletion)
        {
            _deletions++;
        }
        _rawKeyBytes += internalKey.Length;
        _rawValueBytes += value.Length;
        if (_data.CurrentSizeEstimate >= _blockSize)
        {
            FlushDataBlock();
        }
    }

    /// <summary>Writes the remaining blocks and the footer; the caller syncs the file.</summary>
    public void Finish()
    {
        if (!_data.IsEmpty)
        {
            FlushDataBlock();
        }
        var meta = new BlockBuilder(1);
        BlockHandle filter = WriteRawBlock(BloomFilter.Build(_keyHashes, _bitsPerKey));
        BlockHandle props = WriteRawBlock(new TableProperties(Entries, _deletions, _rawKeyBytes, _rawValueBytes, _dataBlocks).Encode());
        // Metaindex entries are sorted by name.
        meta.Add(Encoding.ASCII.GetBytes(TableFormat.FilterName), EncodeHandle(filter));
        meta.Add(Encoding.ASCII.GetBytes(TableFormat.PropertiesName), EncodeHandle(props));
        BlockHandle metaHandle = WriteRawBlock(meta.Finish());
        BlockHandle indexHandle = WriteRawBlock(_index.Finish());
        Span<byte> footer = stackalloc byte[TableFormat.FooterSize];
        TableFormat.WriteFooter(footer, metaHandle, indexHandle);
        _file.Append(footer);
        _offset += TableFormat.FooterSize;
        _finished = true;
    }

    public void Sync() => _file.Sync();

    private void FlushDataBlock()
    {
        Largest = _data.LastKey.ToArray();
        BlockHandle handle = WriteRawBlock(_data.Finish());
        // The index key is the block's last key: >= every key in it, < every key of the next block.
        _index.Add(Largest, EncodeHandle(handle));
        _data.Reset();
        _dataBlocks++;
    }

    private ReadOnlySpan<byte> EncodeHandle(BlockHandle handle)
    {
        int n = handle.EncodeTo(_handleBuffer);
        return _handleBuffer.AsSpan(0, n);
    }

    private BlockHandle WriteRawBlock(ReadOnlySpan<byte> contents)
    {
        var handle = new BlockHandle(_offset, contents.Length);
        _trailer[0] = TableFormat.NoCompression;
        uint crc = Crc32C.Extend(Crc32C.Compute(contents), _trailer.AsSpan(0, 1));
        BinaryPrimitives.WriteUInt32LittleEndian(_trailer.AsSpan(1), Crc32C.Mask(crc));
        _file.Append(contents);
        _file.Append(_trailer);
        _offset += contents.Length + TableFormat.BlockTrailerSize;
        return handle;
    }

    public void Dispose() => _file.Dispose();
}
