using System.Buffers;
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

    private TableReader(IRandomAccessFile file, string name, BlockCache cache, bool salvage)
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
        try
        {
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
        catch (StorageCorruptionException e) when (salvage)
        {
            // Repair rebuilds filter and properties; the data blocks are still reachable.
            _filter = null;
            Properties = null;
            MetaError = e;
        }
    }

    public string Name { get; }

    public TableProperties? Properties { get; }

    /// <summary>Opened with <see cref="OpenForSalvage"/>: why the metaindex, filter or properties block was unreadable, if it was.</summary>
    public StorageCorruptionException? MetaError { get; }

    public static TableReader Open(IFileSystem fs, string path, BlockCache cache)
    {
        IRandomAccessFile file = fs.OpenRead(path);
        try
        {
            return new TableReader(file, Path.GetFileName(path), cache, salvage: false);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a damaged table to read what is left of it (table repair): footer and index must be
    /// readable, else this throws like <see cref="Open"/>; a bad metaindex, filter or properties
    /// block is only recorded in <see cref="MetaError"/>, since the data blocks do not need them.
    /// </summary>
    public static TableReader OpenForSalvage(IFileSystem fs, string path, BlockCache cache)
    {
        IRandomAccessFile file = fs.OpenRead(path);
        try
        {
            return new TableReader(file, Path.GetFileName(path), cache, salvage: true);
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
        foreach (DataBlock b in DataBlocks())
        {
            if (b.Error is null)
            {
                onGoodBlock?.Invoke(b.Number);
            }
            else
            {
                yield return new StorageCorruptionException(b.Error.FileName, b.Error.Offset, $"data block {b.Number}: {b.Error.Detail}");
            }
        }
    }

    /// <summary>
    /// One data block as <see cref="DataBlocks"/> reads it: its number, its index key (the block's
    /// last internal key, as the index says), and either the verified block or why it is unusable.
    /// </summary>
    internal readonly record struct DataBlock(long Number, byte[] IndexKey, BlockHandle Handle, Block? Block, StorageCorruptionException? Error);

    /// <summary>
    /// Reads every data block from the file (not the cache) in index order and checks it: trailer
    /// and CRC, every entry decodable, every key long enough for its tag, keys ascending, above the
    /// previous block's index key and at most this block's, and (if given) within
    /// [<paramref name="smallest"/>, <paramref name="largest"/>] (internal keys). A block failing
    /// any check is yielded with its error, and the walk goes on.
    /// </summary>
    internal IEnumerable<DataBlock> DataBlocks(byte[]? smallest = null, byte[]? largest = null)
    {
        BlockIterator index = _index.NewIterator();
        long number = 0;
        byte[]? previousIndexKey = null;
        for (index.SeekToFirst(); index.Valid; index.Next(), number++)
        {
            byte[] indexKey = index.Key.ToArray();
            bool indexKeyValid = indexKey.Length >= InternalKey.TagSize;
            BlockHandle handle = default;
            Block? block = null;
            StorageCorruptionException? error = null;
            try
            {
                handle = DecodeHandle(index.Value, _index);
                block = ReadBlock(handle);
                if (!indexKeyValid)
                {
                    throw _index.Corrupt($"index key of data block {number} shorter than its tag");
                }
                CheckEntries(block, previousIndexKey, indexKey, smallest, largest);
            }
            catch (StorageCorruptionException e)
            {
                block = null;
                error = e;
            }
            yield return new DataBlock(number, indexKey, handle, block, error);
            if (indexKeyValid)
            {
                previousIndexKey = indexKey;
            }
        }
    }

    private static void CheckEntries(Block b, byte[]? above, byte[] atMost, byte[]? smallest, byte[]? largest)
    {
        BlockIterator it = b.NewIterator();
        byte[] previous = new byte[64];
        int previousLength = -1;
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            ReadOnlySpan<byte> key = it.Key;
            if (key.Length < InternalKey.TagSize)
            {
                throw b.Corrupt("entry key shorter than its tag");
            }
            if ((previousLength >= 0 && InternalKey.Compare(key, previous.AsSpan(0, previousLength)) <= 0)
                || (above is not null && InternalKey.Compare(key, above) <= 0)
                || InternalKey.Compare(key, atMost) > 0)
            {
                throw b.Corrupt("entries out of order");
            }
            if ((smallest is not null && InternalKey.Compare(key, smallest) < 0)
                || (largest is not null && InternalKey.Compare(key, largest) > 0))
            {
                throw b.Corrupt("entry outside the table's key range");
            }
            if (previous.Length < key.Length)
            {
                previous = new byte[Math.Max(key.Length, previous.Length * 2)];
            }
            key.CopyTo(previous);
            previousLength = key.Length;
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
        int n = (int)handle.Size;
        int total = n + TableFormat.BlockTrailerSize;
        byte[] read = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            var buf = read.AsSpan(0, total);
            ReadExactly(handle.Offset, buf);
            uint stored = Crc32C.Unmask(BinaryPrimitives.ReadUInt32LittleEndian(buf[(n + 1)..]));
            if (stored != Crc32C.Compute(buf[..(n + 1)]))
            {
                throw new StorageCorruptionException(Name, handle.Offset, "block checksum mismatch");
            }
            if (buf[n] != TableFormat.NoCompression)
            {
                throw new StorageCorruptionException(Name, handle.Offset, $"unknown block compression type {buf[n]}");
            }
            // The block goes to the cache and lives for a while: on the pinned object heap it is never
            // copied from generation to generation (a busy node read a block per write; promoting them
            // was most of each gen0 collection's pause). Only checked bytes are kept.
            byte[] block = GC.AllocateUninitializedArray<byte>(n, pinned: true);
            buf[..n].CopyTo(block);
            return block;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(read);
        }
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
