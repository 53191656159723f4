using System.Buffers.Binary;
using Kv.Storage.IO;
using Kv.Storage.Util;

namespace Kv.Storage.Wal;

/// <summary>Appends records to a log file, fragmenting them across 32 KiB blocks.</summary>
internal sealed class LogWriter : IDisposable
{
    private static readonly byte[] Zeros = new byte[LogFormat.HeaderSize];
    private readonly IWritableFile _file;
    private readonly byte[] _header = new byte[LogFormat.HeaderSize];
    private int _blockOffset;

    public LogWriter(IWritableFile file)
    {
        _file = file;
        _blockOffset = (int)(file.Length % LogFormat.BlockSize);
    }

    public long Length => _file.Length;

    public void AddRecord(ReadOnlySpan<byte> record)
    {
        bool begin = true;
        do
        {
            int leftover = LogFormat.BlockSize - _blockOffset;
            if (leftover < LogFormat.HeaderSize)
            {
                if (leftover > 0)
                {
                    _file.Append(Zeros.AsSpan(0, leftover));
                }
                _blockOffset = 0;
            }
            int avail = LogFormat.BlockSize - _blockOffset - LogFormat.HeaderSize;
            int fragment = Math.Min(record.Length, avail);
            bool end = fragment == record.Length;
            byte type = begin && end ? LogFormat.FullType
                : begin ? LogFormat.FirstType
                : end ? LogFormat.LastType
                : LogFormat.MiddleType;
            EmitPhysicalRecord(type, record[..fragment]);
            record = record[fragment..];
            begin = false;
        }
        while (!record.IsEmpty);
    }

    public void Flush() => _file.Flush();

    public void Sync() => _file.Sync();

    /// <summary>Forces the first <paramref name="length"/> flushed bytes to stable storage; safe during appends.</summary>
    public void SyncFlushed(long length) => _file.SyncFlushed(length);

    private void EmitPhysicalRecord(byte type, ReadOnlySpan<byte> payload)
    {
        uint crc = Crc32C.Extend(Crc32C.Compute([type]), payload);
        BinaryPrimitives.WriteUInt32LittleEndian(_header, Crc32C.Mask(crc));
        BinaryPrimitives.WriteUInt16LittleEndian(_header.AsSpan(4), (ushort)payload.Length);
        _header[6] = type;
        _file.Append(_header);
        _file.Append(payload);
        _blockOffset += LogFormat.HeaderSize + payload.Length;
    }

    public void Dispose() => _file.Dispose();
}
