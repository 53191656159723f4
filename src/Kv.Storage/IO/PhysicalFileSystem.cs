using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kv.Storage.IO;

/// <summary>The real file system: positional I/O through <see cref="RandomAccess"/>, fdatasync, directory fsync.</summary>
public sealed partial class PhysicalFileSystem : IFileSystem
{
    /// <summary>The shared instance.</summary>
    public static readonly PhysicalFileSystem Instance = new();

    public IWritableFile Create(string path)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        return new PhysicalWritableFile(handle);
    }

    public IWritableFile CreatePreallocated(string path, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        // FileShare.Delete: a prepared file is renamed into place while it is open.
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.Read | FileShare.Delete);
        try
        {
            // Written zeros, not fallocate: writing into allocated-but-unwritten extents would still
            // change metadata (the extents' state) on every sync.
            byte[] zeros = new byte[(int)Math.Min(bytes, 1 << 20)];
            for (long offset = 0; offset < bytes; offset += zeros.Length)
            {
                RandomAccess.Write(handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, bytes - offset)), offset);
            }
            SyncData(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return new PhysicalWritableFile(handle);
    }

    public IWritableFile Reuse(string path)
    {
        // FileShare.Delete: a reused file is renamed into place while it is open.
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.Read | FileShare.Delete);
        return new PhysicalWritableFile(handle);
    }

    public IRandomAccessFile OpenRead(string path)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new PhysicalRandomAccessFile(handle);
    }

    public bool Exists(string path) => File.Exists(path);

    public void Delete(string path) => File.Delete(path);

    public void Rename(string from, string to) => File.Move(from, to, overwrite: true);

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public void SyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return; // Windows has no directory fsync; NTFS journals metadata.
        }
        int fd = Open(path, ORdOnly);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {path} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {path} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    public IReadOnlyList<string> ListFiles(string path)
    {
        if (!Directory.Exists(path))
        {
            return [];
        }
        string[] full = Directory.GetFiles(path);
        var names = new string[full.Length];
        for (int i = 0; i < full.Length; i++)
        {
            names[i] = Path.GetFileName(full[i]);
        }
        return names;
    }

    public IDisposable Lock(string path)
    {
        try
        {
            // On Unix .NET backs FileShare.None with flock(LOCK_EX | LOCK_NB): another process (or another
            // open in this process) fails at once, and a kill -9 releases the lock.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new StorageLockedException(path, e);
        }
    }

    /// <summary>fdatasync on Linux (skips the inode timestamps), fsync elsewhere.</summary>
    internal static void SyncData(SafeFileHandle handle)
    {
        if (OperatingSystem.IsLinux())
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                if (FdataSync((int)handle.DangerousGetHandle()) != 0)
                {
                    throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()})");
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
            return;
        }
        RandomAccess.FlushToDisk(handle);
    }

    private const int ORdOnly = 0;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdataSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
