using System.Buffers.Binary;
using System.Text;
using Kv.Storage.IO;
using Kv.Storage.Iterators;
using Kv.Storage.Memtable;
using Kv.Storage.Util;

namespace Kv.Storage.Table;

/// <summary>
/// An open table: footer, index and filter are read and verified at open and kept in memory; data
/// blocks are read on demand, verified, and kept in the shared block cache.
/// </summary>
internal sealed class TableReader : IDisposable
{
    private readonly IRandomAccessFile _file;
    private readonly BlockCache _cache;
    private readonly long _cacheId;
    private readonly Block _index;
    private readonly byte[]? _filter;

    private TableReader(IRandomAccessFile file, string name, BlockCache cache)
    {
        _file = file;
        Name = name;
        _cache = cache;
        _cacheId = cache.NewId();
        long length = file.Length;
        if (length < TableFormat.FooterSize)
        {
            throw new StorageCorruptionException(name, 0, $"file of {length} bytes is too short to be a table");
        }
        var footer = new byte[TableFormat.FooterSize];
        ReadExactly(length - TableFormat.FooterSize, footer);
        (BlockHandle metaHandle, BlockHandle indexHandle) = TableFormat.ReadFooter(footer, name, length - TableFormat.FooterSize);
        _index = ReadBlock(indexHandle);
        Block meta = ReadBlock(metaHandle);
        BlockIterator it = meta.NewIterator();
        if (it.SeekExact(Encoding.ASCII.GetBytes(TableFormat.FilterName)))
        {
            _filter = ReadContents(DecodeHandle(it.Value, meta));
        }
        if (it.SeekExact(Encoding.ASCII.GetBytes(TableFormat.PropertiesName)))
        {
            Properties = TableProperties.TryDecode(ReadContents(DecodeHandle(it.Value, meta)));
        }
    }

    public string Name { get; }

    public TableProperties? Properties { get; }

    public static TableReader Open(IFileSystem fs, string path, BlockCache cache)
    {
        IRandomAccessFile file = fs.OpenRead(path);
        try
        {
            return new TableReader(file, Path.GetFileName(path), cache);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Point lookup of the newest version of the lookup key's user key at or below its sequence.</summary>
    public LookupResult Get(ReadOnlySpan<byte> lookupKey, uint userKeyHash, out ReadOnlyMemory<byte> value)
    {
        value = default;
        if (_filter is not null && !BloomFilter.MayContain(_filter, userKeyHash))
        {
            return LookupResult.NotFound;
        }
        BlockIterator index = _index.NewIterator();
        index.Seek(lookupKey);
        if (!index.Valid)
        {
            return LookupResult.NotFound;
        }
        Block block = GetDataBlock(DecodeHandle(index.Value, _index));
        BlockIterator it = block.NewIterator();
        it.Seek(lookupKey);
        if (!it.Valid)
        {
            return LookupResult.NotFound;
        }
        ReadOnlySpan<byte> key = it.Key;
        if (key.Length < InternalKey.TagSize || !InternalKey.UserKey(key).SequenceEqual(InternalKey.UserKey(lookupKey)))
        {
            return LookupResult.NotFound;
        }
        if (InternalKey.TypeOf(key) == EntryType.Deletion)
        {
            return LookupResult.Deleted;
        }
        value = it.ValueMemory; // the block's own bytes: cached blocks are shared and never changed
        return LookupResult.Found;
    }

    public IInternalIterator NewIterator(bool fillCache = true) => new TableIterator(this, _index, fillCache);

    /// <summary>Reads and checks every block of the table; throws at the first corruption. Returns the number of data blocks.</summary>
    public long VerifyAll()
    {
        long blocks = 0;
        foreach (StorageCorruptionException e in Verify(_ => blocks++))
        {
            throw e;
        }
        return blocks;
    }

    /// <summary>Reads and checks every data block, reporting each bad one (with its block number) and going on.</summary>
    public IEnumerable<StorageCorruptionException> Verify(Action<long>? onGoodBlock = null)
    {
        BlockIterator index = _index.NewIterator();
        long number = 0;
        for (index.SeekToFirst(); index.Valid; index.Next(), number++)
        {
            StorageCorruptionException? error = null;
            try
            {
                Block b = ReadBlock(DecodeHandle(index.Value, _index));
                BlockIterator it = b.NewIterator();
                for (it.SeekToFirst(); it.Valid; it.Next())
                {
                    if (it.Key.Length < InternalKey.TagSize)
                    {
                        throw b.Corrupt("entry key shorter than its tag");
                    }
                }
                onGoodBlock?.Invoke(number);
            }
            catch (StorageCorruptionException e)
            {
                error = new StorageCorruptionException(e.FileName, e.Offset, $"data block {number}: {e.Detail}");
            }
            if (error is not null)
            {
                yield return error;
            }
        }
    }

    internal Block GetDataBlock(BlockHandle handle, bool fillCache = true)
    {
        Block? cached = _cache.Lookup(_cacheId, handle.Offset);
        if (cached is not null)
        {
            return cached;
        }
        Block block = ReadBlock(handle);
        if (fillCache)
        {
            _cache.Insert(_cacheId, handle.Offset, block);
        }
        return block;
    }

    internal static BlockHandle DecodeHandle(ReadOnlySpan<byte> encoded, Block from)
    {
        int pos = 0;
        if (!BlockHandle.TryDecode(encoded, ref pos, out BlockHandle handle))
        {
            throw from.Corrupt("bad block handle");
        }
        return handle;
    }

    private Block ReadBlock(BlockHandle handle) => new(ReadContents(handle), Name, handle.Offset);

    /// <summary>Reads a block's bytes and checks its trailer (type and CRC).</summary>
    private byte[] ReadContents(BlockHandle handle)
    {
        if (handle.Offset + handle.Size + TableFormat.BlockTrailerSize > _file.Length)
        {
            throw new StorageCorruptionException(Name, handle.Offset, $"block of {handle.Size} bytes runs past the end of the file");
        }
        var buf = new byte[handle.Size + TableFormat.BlockTrailerSize];
        ReadExactly(handle.Offset, buf);
        int n = (int)handle.Size;
        uint stored = Crc32C.Unmask(BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(n + 1)));
        if (stored != Crc32C.Compute(buf.AsSpan(0, n + 1)))
        {
            throw new StorageCorruptionException(Name, handle.Offset, "block checksum mismatch");
        }
        if (buf[n] != TableFormat.NoCompression)
        {
            throw new StorageCorruptionException(Name, handle.Offset, $"unknown block compression type {buf[n]}");
        }
        Array.Resize(ref buf, n);
        return buf;
    }

    private void ReadExactly(long offset, Span<byte> dst)
    {
        if (_file.Read(offset, dst) != dst.Length)
        {
            throw new StorageCorruptionException(Name, offset, "unexpected end of file");
        }
    }

    public void Dispose()
    {
        _cache.EraseTable(_cacheId);
        _file.Dispose();
    }
}
