using System.Buffers.Binary;
using Kv.Storage.IO;
using Kv.Storage.Util;

namespace Kv.Storage.Wal;

/// <summary>
/// Appends records to a log file, fragmenting them across 32 KiB blocks. Given a log number, it
/// writes recyclable records (the number in each header, under the checksum), so that the file may
/// be a reused one whose old records still follow the new ones.
/// </summary>
internal sealed class LogWriter : IDisposable
{
    private static readonly byte[] Zeros = new byte[LogFormat.RecyclableHeaderSize];
    private readonly IWritableFile _file;
    private readonly byte[] _header;
    private readonly uint? _logNumber;
    private int _blockOffset;

    public LogWriter(IWritableFile file, uint? logNumber = null)
    {
        _file = file;
        _logNumber = logNumber;
        _header = new byte[logNumber is null ? LogFormat.HeaderSize : LogFormat.RecyclableHeaderSize];
        if (logNumber is { } number)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(LogFormat.HeaderSize), number);
        }
        _blockOffset = (int)(file.Length % LogFormat.BlockSize);
    }

    public long Length => _file.Length;

    public void AddRecord(ReadOnlySpan<byte> record)
    {
        bool begin = true;
        do
        {
            PadBlockIfFull();
            int avail = LogFormat.BlockSize - _blockOffset - _header.Length;
            int fragment = Math.Min(record.Length, avail);
            bool end = fragment == record.Length;
            byte type = begin && end ? LogFormat.FullType
                : begin ? LogFormat.FirstType
                : end ? LogFormat.LastType
                : LogFormat.MiddleType;
            EmitPhysicalRecord(_logNumber is null ? type : (byte)(type + LogFormat.RecyclableOffset), record[..fragment]);
            record = record[fragment..];
            begin = false;
        }
        while (!record.IsEmpty);
    }

    /// <summary>Fewer bytes left in the block than a header: zero-filled, and the next record starts the next block.</summary>
    private void PadBlockIfFull()
    {
        int leftover = LogFormat.BlockSize - _blockOffset;
        if (leftover < _header.Length)
        {
            if (leftover > 0)
            {
                _file.Append(Zeros.AsSpan(0, leftover));
            }
            _blockOffset = 0;
        }
    }

    /// <summary>
    /// Writes a header of zeros where the next record would start: a reader stops there, whatever
    /// a reused file held after it. The log takes no records after this.
    /// </summary>
    public void MarkEnd()
    {
        PadBlockIfFull();
        _file.Append(Zeros.AsSpan(0, _header.Length));
        _blockOffset += _header.Length;
    }

    public void Flush() => _file.Flush();

    public void Sync() => _file.Sync();

    /// <summary>Forces the first <paramref name="length"/> flushed bytes to stable storage; safe during appends.</summary>
    public void SyncFlushed(long length) => _file.SyncFlushed(length);

    private void EmitPhysicalRecord(byte type, ReadOnlySpan<byte> payload)
    {
        _header[6] = type;
        // The checksum covers the type, the log number of a recyclable record, and the payload.
        uint crc = Crc32C.Extend(Crc32C.Compute(_header.AsSpan(6)), payload);
        BinaryPrimitives.WriteUInt32LittleEndian(_header, Crc32C.Mask(crc));
        BinaryPrimitives.WriteUInt16LittleEndian(_header.AsSpan(4), (ushort)payload.Length);
        _file.Append(_header);
        _file.Append(payload);
        _blockOffset += _header.Length + payload.Length;
    }

    public void Dispose() => _file.Dispose();
}
