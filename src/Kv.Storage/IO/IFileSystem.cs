namespace Kv.Storage.IO;

/// <summary>
/// Every file operation of the engine goes through this interface, so tests can run the engine on
/// a file system that crashes (drops unsynced data and unsynced renames), tears writes and flips bits.
/// Paths are full paths; directories use '/' or the platform separator.
/// </summary>
public interface IFileSystem
{
    /// <summary>Creates (or truncates) a file for sequential appends.</summary>
    IWritableFile Create(string path);

    /// <summary>
    /// Creates (or truncates) a file whose first <paramref name="bytes"/> are written as zeros and made
    /// durable before it is returned; appends then overwrite the zeros in place, so an fdatasync has
    /// no new file size to commit, only the data (preallocated logs, as Cassandra's commit log and
    /// RocksDB's recycled WALs). <see cref="IWritableFile.Length"/> counts appended bytes from 0.
    /// </summary>
    IWritableFile CreatePreallocated(string path, long bytes);

    /// <summary>
    /// Opens an existing file to write it again from its first byte, keeping its size and contents:
    /// appends overwrite the old bytes in place, and what lies past them still reads as before (a
    /// reused log segment: the log format tells its old records from the new ones, and an fdatasync
    /// has no new size or extents to commit). <see cref="IWritableFile.Length"/> counts appended bytes from 0.
    /// </summary>
    IWritableFile Reuse(string path);

    /// <summary>Opens an existing file for positional reads.</summary>
    IRandomAccessFile OpenRead(string path);

    bool Exists(string path);

    void Delete(string path);

    /// <summary>Atomically renames <paramref name="from"/> over <paramref name="to"/>.</summary>
    void Rename(string from, string to);

    void CreateDirectory(string path);

    /// <summary>Makes creations, renames and deletions in <paramref name="path"/> durable.</summary>
    void SyncDirectory(string path);

    /// <summary>File names (not paths) directly inside <paramref name="path"/>.</summary>
    IReadOnlyList<string> ListFiles(string path);

    /// <summary>Takes an exclusive lock on <paramref name="path"/> or throws <see cref="StorageLockedException"/>.</summary>
    IDisposable Lock(string path);
}
