namespace Kv.Storage.Wal;

/// <summary>Constants of the log format shared by the WAL, the MANIFEST and the commit log (docs/storage.md).</summary>
internal static class LogFormat
{
    public const int BlockSize = 32 * 1024;

    /// <summary>crc u32 + length u16 + type u8.</summary>
    public const int HeaderSize = 7;

    /// <summary>
    /// crc u32 + length u16 + type u8 + log number u32: the header of a log whose file may be reused
    /// (RocksDB's recyclable records). The checksum covers the log number, so a record left by the
    /// file's previous use is intact but names another log, and ends the reading.
    /// </summary>
    public const int RecyclableHeaderSize = 11;

    public const byte ZeroType = 0;
    public const byte FullType = 1;
    public const byte FirstType = 2;
    public const byte MiddleType = 3;
    public const byte LastType = 4;

    /// <summary>Recyclable record types are the plain ones plus this (5 full, 6 first, 7 middle, 8 last).</summary>
    public const byte RecyclableOffset = 4;

    public static bool IsRecyclable(byte type) => type is > LastType and <= LastType + RecyclableOffset;
}
