using System.Buffers.Binary;

namespace Kv.Storage.Table;

/// <summary>A verified, decoded block's bytes plus where it came from (for error messages).</summary>
internal sealed class Block
{
    public Block(byte[] data, string fileName, long offset)
    {
        Data = data;
        FileName = fileName;
        Offset = offset;
        if (data.Length < 4)
        {
            throw Corrupt("block too short for its restart count");
        }
        RestartCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(data.Length - 4));
        long restartBytes = (long)RestartCount * 4 + 4;
        if (RestartCount == 0 || restartBytes > data.Length)
        {
            throw Corrupt($"bad restart count {RestartCount}");
        }
        RestartOffset = data.Length - (int)restartBytes;
    }

    public byte[] Data { get; }

    public string FileName { get; }

    public long Offset { get; }

    public int RestartCount { get; }

    /// <summary>Where the restart array begins, i.e. the end of the entries.</summary>
    public int RestartOffset { get; }

    public int RestartPoint(int index) => (int)BinaryPrimitives.ReadUInt32LittleEndian(Data.AsSpan(RestartOffset + index * 4));

    public StorageCorruptionException Corrupt(string detail) => new(FileName, Offset, detail);

    public BlockIterator NewIterator() => new(this);
}
