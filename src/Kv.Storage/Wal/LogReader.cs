using System.Buffers;
using System.Buffers.Binary;
using Kv.Storage.IO;
using Kv.Storage.Util;

namespace Kv.Storage.Wal;

/// <summary>How a log read ended.</summary>
internal enum LogEnd
{
    /// <summary>Clean end of file.</summary>
    EndOfFile,

    /// <summary>An incomplete or damaged tail with no valid record after it: a write torn by a crash.</summary>
    TornTail,

    /// <summary>Damage followed by valid records: real corruption, never skipped over.</summary>
    Corruption,
}

/// <summary>
/// Reads log records in order. Stops at the first damaged record and classifies it: a torn tail if
/// no block after it starts with a valid record, otherwise corruption (point-in-time recovery). In a
/// preallocated log, zeros where a record header would start are the end of what was written, unless
/// a valid record follows them (then corruption). Given the log's number, it also reads recyclable
/// records: an intact one that names another log was left by the file's previous use, and ends the
/// log as zeros do (a "valid record after" is then one of this log's).
/// </summary>
internal sealed class LogReader
{
    private readonly IRandomAccessFile _file;
    private readonly string _name;
    private readonly long _fileLength;
    private readonly byte[] _block = new byte[LogFormat.BlockSize];
    private readonly ArrayBufferWriter<byte> _scratch = new();
    private long _blockStart = -LogFormat.BlockSize;
    private int _blockLength;
    private int _pos;
    private readonly bool _preallocated;
    private readonly uint? _logNumber;
    private bool _eof;

    public LogReader(IRandomAccessFile file, string name, bool preallocated = false, uint? logNumber = null)
    {
        _file = file;
        _name = name;
        _preallocated = preallocated;
        _logNumber = logNumber;
        _fileLength = file.Length;
        _pos = 0;
        _blockLength = 0;
    }

    /// <summary>How reading ended, once <see cref="TryRead"/> returned false.</summary>
    public LogEnd End { get; private set; } = LogEnd.EndOfFile;

    /// <summary>Offset of the damaged record, for <see cref="LogEnd.TornTail"/> and <see cref="LogEnd.Corruption"/>.</summary>
    public long ErrorOffset { get; private set; }

    public string ErrorDetail { get; private set; } = string.Empty;

    /// <summary>Offset just past the last good record.</summary>
    public long GoodLength { get; private set; }

    /// <summary>Reads the next record; the span is valid until the next call.</summary>
    public bool TryRead(out ReadOnlySpan<byte> record)
    {
        record = default;
        if (_eof)
        {
            return false;
        }
        bool inFragment = false;
        long recordStart = 0;
        _scratch.Clear();
        while (true)
        {
            long physicalOffset = _blockStart + _pos;
            int result = ReadPhysical(out byte type, out int start, out int length);
            if (result == 0)
            {
                if (inFragment)
                {
                    return Fail(recordStart, "record truncated after its first fragment");
                }
                _eof = true;
                End = LogEnd.EndOfFile;
                return false;
            }
            if (result is ZeroHeader or OldRecord && !inFragment)
            {
                if (AnyValidRecordAfter(physicalOffset))
                {
                    return Fail(physicalOffset, ErrorDetail, validAfter: true);
                }
                // The preallocated zeros, or what a reused file held, after the last record written.
                _eof = true;
                End = LogEnd.EndOfFile;
                return false;
            }
            if (result < 0)
            {
                return Fail(inFragment ? recordStart : physicalOffset, ErrorDetail);
            }
            ReadOnlySpan<byte> payload = _block.AsSpan(start, length);
            switch (type)
            {
                case LogFormat.FullType:
                    if (inFragment)
                    {
                        return Fail(recordStart, "full record inside a fragmented record");
                    }
                    record = payload;
                    GoodLength = _blockStart + _pos;
                    return true;
                case LogFormat.FirstType:
                    if (inFragment)
                    {
                        return Fail(recordStart, "first fragment inside a fragmented record");
                    }
                    inFragment = true;
                    recordStart = physicalOffset;
                    _scratch.Write(payload);
                    break;
                case LogFormat.MiddleType:
                    if (!inFragment)
                    {
                        return Fail(physicalOffset, "middle fragment without a first fragment");
                    }
                    _scratch.Write(payload);
                    break;
                case LogFormat.LastType:
                    if (!inFragment)
                    {
                        return Fail(physicalOffset, "last fragment without a first fragment");
                    }
                    _scratch.Write(payload);
                    record = _scratch.WrittenSpan;
                    GoodLength = _blockStart + _pos;
                    return true;
                default:
                    return Fail(physicalOffset, $"unknown record type {type}");
            }
        }
    }

    private bool Fail(long offset, string detail, bool? validAfter = null)
    {
        _eof = true;
        ErrorOffset = offset;
        ErrorDetail = detail;
        End = validAfter ?? AnyValidRecordAfter(offset) ? LogEnd.Corruption : LogEnd.TornTail;
        return false;
    }

    private const int ZeroHeader = -2;
    private const int OldRecord = -3;

    /// <summary>
    /// 1 = record (recyclable types reported as the plain ones), 0 = end of file, -1 = damaged
    /// (ErrorDetail set), -2 = zeros in a preallocated log, -3 = an intact record of another log.
    /// </summary>
    private int ReadPhysical(out byte type, out int start, out int length)
    {
        type = 0;
        start = 0;
        length = 0;
        while (true)
        {
            int rest = _blockLength - _pos;
            if (rest < LogFormat.HeaderSize || (_logNumber is not null && rest < LogFormat.RecyclableHeaderSize && !_block.AsSpan(_pos, rest).ContainsAnyExcept((byte)0)))
            {
                // Fewer bytes than a header (a recyclable one, if they are zeros) end a block.
                if (_blockLength < LogFormat.BlockSize && _blockStart >= 0)
                {
                    // Last block of the file: fewer than 7 bytes left is an incomplete header or nothing.
                    if (rest > 0 && rest < LogFormat.HeaderSize)
                    {
                        ErrorDetail = "truncated record header";
                        return -1;
                    }
                    return 0;
                }
                _blockStart += LogFormat.BlockSize;
                if (_blockStart >= _fileLength)
                {
                    _blockLength = 0;
                    _pos = 0;
                    return 0;
                }
                _blockLength = _file.Read(_blockStart, _block);
                _pos = 0;
                continue;
            }
            ReadOnlySpan<byte> header = _block.AsSpan(_pos, LogFormat.HeaderSize);
            uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(header);
            int len = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
            type = header[6];
            bool recyclable = _logNumber is not null && LogFormat.IsRecyclable(type);
            int headerSize = recyclable ? LogFormat.RecyclableHeaderSize : LogFormat.HeaderSize;
            if (_pos + headerSize + len > _blockLength)
            {
                ErrorDetail = _blockLength < LogFormat.BlockSize ? "truncated record" : "record length runs past its block";
                return -1;
            }
            if (type == LogFormat.ZeroType && len == 0 && storedCrc == 0)
            {
                ErrorDetail = "zeroed space where a record was expected";
                return _preallocated ? ZeroHeader : -1;
            }
            uint actual = Crc32C.Compute(_block.AsSpan(_pos + 6, headerSize - 6 + len));
            if (Crc32C.Unmask(storedCrc) != actual)
            {
                ErrorDetail = "checksum mismatch";
                return -1;
            }
            if (recyclable)
            {
                uint number = BinaryPrimitives.ReadUInt32LittleEndian(_block.AsSpan(_pos + LogFormat.HeaderSize));
                if (number != _logNumber)
                {
                    ErrorDetail = $"a record of log {number} (what the reused file held before)";
                    return OldRecord;
                }
                type -= LogFormat.RecyclableOffset;
            }
            start = _pos + headerSize;
            length = len;
            _pos += headerSize + len;
            return 1;
        }
    }

    /// <summary>Whether any later block begins with an intact record: tells corruption from a torn tail.</summary>
    private bool AnyValidRecordAfter(long offset)
    {
        // Headers first: a preallocated log is mostly zeros, and only a plausible header costs a block read.
        Span<byte> header = stackalloc byte[LogFormat.RecyclableHeaderSize];
        byte[]? block = null;
        for (long b = (offset / LogFormat.BlockSize + 1) * LogFormat.BlockSize; b < _fileLength; b += LogFormat.BlockSize)
        {
            int got = _file.Read(b, header);
            if (got < LogFormat.HeaderSize)
            {
                return false;
            }
            uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(header);
            int len = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
            byte type = header[6];
            bool recyclable = _logNumber is not null && LogFormat.IsRecyclable(type);
            int headerSize = recyclable ? LogFormat.RecyclableHeaderSize : LogFormat.HeaderSize;
            if ((!recyclable && type is < LogFormat.FullType or > LogFormat.LastType) || headerSize + len > LogFormat.BlockSize
                || (recyclable && (got < headerSize || BinaryPrimitives.ReadUInt32LittleEndian(header[LogFormat.HeaderSize..]) != _logNumber)))
            {
                continue; // not a record, or one the reused file held before
            }
            block ??= new byte[LogFormat.BlockSize];
            int n = _file.Read(b, block.AsSpan(0, headerSize + len));
            if (n == headerSize + len && Crc32C.Unmask(storedCrc) == Crc32C.Compute(block.AsSpan(6, headerSize - 6 + len)))
            {
                return true;
            }
        }
        return false;
    }

    public override string ToString() => _name;
}
