namespace Kv.Storage;

/// <summary>Stored bytes failed a checksum or could not be decoded. The engine never returns data it cannot verify.</summary>
public sealed class StorageCorruptionException : IOException
{
    public StorageCorruptionException(string file, long offset, string detail)
        : base($"corruption in {file} at offset {offset}: {detail}")
    {
        FileName = file;
        Offset = offset;
        Detail = detail;
    }

    /// <summary>The file that holds the bad bytes.</summary>
    public string FileName { get; }

    /// <summary>Byte offset of the bad block or record within the file.</summary>
    public long Offset { get; }

    public string Detail { get; }
}
