using Microsoft.Win32.SafeHandles;

namespace Kv.Storage.IO;

/// <summary>An append-only file with a user-space buffer, written with positional writes.</summary>
internal sealed class PhysicalWritableFile : IWritableFile
{
    private const int BufferSize = 64 * 1024;
    private readonly SafeFileHandle _handle;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _buffered;
    private long _written;

    public PhysicalWritableFile(SafeFileHandle handle) => _handle = handle;

    public long Length => _written + _buffered;

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.Length <= BufferSize - _buffered)
        {
            data.CopyTo(_buffer.AsSpan(_buffered));
            _buffered += data.Length;
            return;
        }
        Flush();
        if (data.Length >= BufferSize)
        {
            RandomAccess.Write(_handle, data, _written);
            _written += data.Length;
            return;
        }
        data.CopyTo(_buffer);
        _buffered = data.Length;
    }

    public void Flush()
    {
        if (_buffered == 0)
        {
            return;
        }
        RandomAccess.Write(_handle, _buffer.AsSpan(0, _buffered), _written);
        _written += _buffered;
        _buffered = 0;
    }

    public void Sync()
    {
        Flush();
        PhysicalFileSystem.SyncData(_handle);
    }

    public void SyncFlushed(long length) => PhysicalFileSystem.SyncData(_handle);

    public void Dispose()
    {
        if (_handle.IsClosed)
        {
            return;
        }
        try
        {
            Flush();
        }
        finally
        {
            _handle.Dispose();
        }
    }
}
