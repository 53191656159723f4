namespace Kv.Storage.IO;

/// <summary>A file written front to back.</summary>
public interface IWritableFile : IDisposable
{
    /// <summary>Bytes appended so far (buffered or not).</summary>
    long Length { get; }

    void Append(ReadOnlySpan<byte> data);

    /// <summary>Hands buffered bytes to the operating system (survives a process crash).</summary>
    void Flush();

    /// <summary>Flushes and forces the bytes to stable storage (survives a machine crash).</summary>
    void Sync();

    /// <summary>
    /// Forces to stable storage at least the first <paramref name="length"/> bytes, which an earlier
    /// <see cref="Flush"/> handed to the operating system. Safe while another thread appends.
    /// </summary>
    void SyncFlushed(long length);
}
