namespace Kv.Storage.IO;

/// <summary>A file read at arbitrary offsets, safe for concurrent readers.</summary>
public interface IRandomAccessFile : IDisposable
{
    long Length { get; }

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; returns the count read.</summary>
    int Read(long offset, Span<byte> destination);
}
