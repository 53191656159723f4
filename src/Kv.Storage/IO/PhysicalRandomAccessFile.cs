using Microsoft.Win32.SafeHandles;

namespace Kv.Storage.IO;

/// <summary>Positional reads over a file handle; thread-safe (pread).</summary>
internal sealed class PhysicalRandomAccessFile : IRandomAccessFile
{
    private readonly SafeFileHandle _handle;

    public PhysicalRandomAccessFile(SafeFileHandle handle)
    {
        _handle = handle;
        Length = RandomAccess.GetLength(handle);
    }

    public long Length { get; }

    public int Read(long offset, Span<byte> destination)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int n = RandomAccess.Read(_handle, destination.Slice(total), offset + total);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    public void Dispose() => _handle.Dispose();
}
