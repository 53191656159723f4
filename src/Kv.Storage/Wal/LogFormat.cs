namespace Kv.Storage.Wal;

/// <summary>Constants of the log format shared by the WAL and the MANIFEST (docs/log-format.md).</summary>
internal static class LogFormat
{
    public const int BlockSize = 32 * 1024;

    /// <summary>crc u32 + length u16 + type u8.</summary>
    public const int HeaderSize = 7;

    public const byte ZeroType = 0;
    public const byte FullType = 1;
    public const byte FirstType = 2;
    public const byte MiddleType = 3;
    public const byte LastType = 4;
}
