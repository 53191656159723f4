namespace Kv.Storage.IO;

/// <summary>
/// An in-memory file system with machine-crash semantics, after LevelDB's fault_injection_test:
/// file contents are durable only up to the last <see cref="IWritableFile.Sync"/>, and creations,
/// renames and deletions only after <see cref="IFileSystem.SyncDirectory"/>. <see cref="Crash"/>
/// throws away everything that was not durable (optionally keeping a torn prefix of the unsynced
/// tail); <see cref="FlipBit"/> corrupts stored bytes.
/// </summary>
public sealed class FaultInjectionFileSystem : IFileSystem
{
    private readonly object _gate = new();
    private readonly Dictionary<string, MemFile> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MemFile> _durable = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    private readonly HashSet<string> _locks = new(StringComparer.Ordinal);

    /// <summary>When set, every write or sync throws an <see cref="IOException"/> (a full or failing disk).</summary>
    public bool FailWrites { get; set; }

    public IWritableFile Create(string path)
    {
        path = Normalize(path);
        lock (_gate)
        {
            ThrowIfFailing();
            var file = new MemFile();
            _live[path] = file;
            return new Writer(this, file);
        }
    }

    public IWritableFile CreatePreallocated(string path, long bytes)
    {
        path = Normalize(path);
        lock (_gate)
        {
            ThrowIfFailing();
            // Durable zeros past what is written: a crash keeps them (reads past Length see zeros).
            var file = new MemFile { Preallocated = checked((int)bytes) };
            _live[path] = file;
            return new Writer(this, file);
        }
    }

    public IWritableFile Reuse(string path)
    {
        path = Normalize(path);
        lock (_gate)
        {
            ThrowIfFailing();
            if (!_live.TryGetValue(path, out MemFile? file))
            {
                throw new FileNotFoundException($"no such file: {path}", path);
            }
            lock (file)
            {
                // The old bytes stay (and stay durable): past what is appended, reads see them.
                file.Retained = Math.Max(file.Retained, file.Length);
                file.Preallocated = file.Size;
                file.Length = 0;
                file.Synced = 0;
            }
            return new Writer(this, file);
        }
    }

    public IRandomAccessFile OpenRead(string path)
    {
        path = Normalize(path);
        lock (_gate)
        {
            if (!_live.TryGetValue(path, out MemFile? file))
            {
                throw new FileNotFoundException($"no such file: {path}", path);
            }
            return new Reader(file);
        }
    }

    public bool Exists(string path)
    {
        lock (_gate)
        {
            return _live.ContainsKey(Normalize(path));
        }
    }

    public void Delete(string path)
    {
        lock (_gate)
        {
            _live.Remove(Normalize(path));
        }
    }

    public void Rename(string from, string to)
    {
        from = Normalize(from);
        to = Normalize(to);
        lock (_gate)
        {
            ThrowIfFailing();
            if (!_live.Remove(from, out MemFile? file))
            {
                throw new FileNotFoundException($"no such file: {from}", from);
            }
            _live[to] = file;
        }
    }

    public void CreateDirectory(string path)
    {
        lock (_gate)
        {
            _directories.Add(Normalize(path));
        }
    }

    public void SyncDirectory(string path)
    {
        string dir = Normalize(path);
        lock (_gate)
        {
            ThrowIfFailing();
            foreach (string name in _durable.Keys.Where(k => DirectoryOf(k) == dir).ToList())
            {
                if (!_live.ContainsKey(name))
                {
                    _durable.Remove(name);
                }
            }
            foreach (KeyValuePair<string, MemFile> kv in _live)
            {
                if (DirectoryOf(kv.Key) == dir)
                {
                    _durable[kv.Key] = kv.Value;
                }
            }
        }
    }

    public IReadOnlyList<string> ListFiles(string path)
    {
        string dir = Normalize(path);
        lock (_gate)
        {
            return _live.Keys.Where(k => DirectoryOf(k) == dir).Select(k => k[(dir.Length + 1)..]).ToList();
        }
    }

    public IDisposable Lock(string path)
    {
        path = Normalize(path);
        lock (_gate)
        {
            if (!_locks.Add(path))
            {
                throw new StorageLockedException(path);
            }
            return new LockHandle(this, path);
        }
    }

    /// <summary>
    /// Simulates a power cut: the namespace reverts to the last directory sync, every file loses its
    /// unsynced tail (or, with <paramref name="tornTail"/>, keeps a random prefix of it), and locks are released.
    /// Handles opened before the crash must not be used afterwards.
    /// </summary>
    public void Crash(Random? tornTail = null)
    {
        lock (_gate)
        {
            _live.Clear();
            foreach (KeyValuePair<string, MemFile> kv in _durable)
            {
                MemFile f = kv.Value;
                lock (f)
                {
                    int keep = f.Synced;
                    if (tornTail is not null && f.Length > f.Synced)
                    {
                        keep += tornTail.Next(f.Length - f.Synced + 1);
                    }
                    f.Length = keep;
                    f.Synced = keep;
                }
                _live[kv.Key] = f;
            }
            _locks.Clear();
        }
    }

    /// <summary>Flips one bit of a stored file (the durable copy too).</summary>
    public void FlipBit(string path, long offset, int bit)
    {
        lock (_gate)
        {
            MemFile f = _live[Normalize(path)];
            lock (f)
            {
                if (offset >= f.Length)
                {
                    throw new ArgumentOutOfRangeException(nameof(offset));
                }
                f.Data[offset] ^= (byte)(1 << bit);
            }
        }
    }

    /// <summary>Current length of a file (its preallocated size if that is more).</summary>
    public long GetLength(string path)
    {
        lock (_gate)
        {
            MemFile f = _live[Normalize(path)];
            lock (f)
            {
                return f.Size;
            }
        }
    }

    /// <summary>Truncates a file (and its durable copy) to <paramref name="length"/> bytes.</summary>
    public void Truncate(string path, long length)
    {
        lock (_gate)
        {
            MemFile f = _live[Normalize(path)];
            lock (f)
            {
                f.Length = (int)Math.Min(f.Length, length);
                f.Synced = Math.Min(f.Synced, f.Length);
                f.Preallocated = (int)Math.Min(f.Preallocated, length);
                f.Retained = (int)Math.Min(f.Retained, length);
            }
        }
    }

    private void ThrowIfFailing()
    {
        if (FailWrites)
        {
            throw new IOException("injected write failure");
        }
    }

    private static string Normalize(string path) => path.Replace('\\', '/').TrimEnd('/');

    private static string DirectoryOf(string path)
    {
        int i = path.LastIndexOf('/');
        return i < 0 ? string.Empty : path[..i];
    }

    private sealed class MemFile
    {
        public byte[] Data = new byte[256];
        public int Length;
        public int Synced;

        /// <summary>Size of the durable zeros of a preallocated file; bytes past Length read as zeros.</summary>
        public int Preallocated;

        /// <summary>Bytes of a reused file's earlier contents: past Length, they read back from Data, not as zeros.</summary>
        public int Retained;

        public int Size => Math.Max(Length, Preallocated);
    }

    private sealed class Writer(FaultInjectionFileSystem fs, MemFile file) : IWritableFile
    {
        private bool _disposed;

        public long Length
        {
            get
            {
                lock (file)
                {
                    return file.Length;
                }
            }
        }

        public void Append(ReadOnlySpan<byte> data)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            fs.ThrowIfFailing();
            lock (file)
            {
                if (file.Length + data.Length > file.Data.Length)
                {
                    Array.Resize(ref file.Data, Math.Max(file.Data.Length * 2, file.Length + data.Length));
                }
                data.CopyTo(file.Data.AsSpan(file.Length));
                file.Length += data.Length;
            }
        }

        public void Flush() => ObjectDisposedException.ThrowIf(_disposed, this);

        public void Sync()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            fs.ThrowIfFailing();
            lock (file)
            {
                file.Synced = file.Length;
            }
        }

        public void SyncFlushed(long length)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            fs.ThrowIfFailing();
            lock (file)
            {
                file.Synced = Math.Max(file.Synced, (int)Math.Min(length, file.Length));
            }
        }

        public void Dispose() => _disposed = true;
    }

    private sealed class Reader(MemFile file) : IRandomAccessFile
    {
        public long Length
        {
            get
            {
                lock (file)
                {
                    return file.Size;
                }
            }
        }

        public int Read(long offset, Span<byte> destination)
        {
            lock (file)
            {
                if (offset >= file.Size)
                {
                    return 0;
                }
                int n = (int)Math.Min(destination.Length, file.Size - offset);
                int written = (int)Math.Clamp(Math.Max(file.Length, Math.Min(file.Retained, file.Data.Length)) - offset, 0, n);
                if (written > 0)
                {
                    file.Data.AsSpan((int)offset, written).CopyTo(destination);
                }
                destination[written..n].Clear(); // preallocated zeros (whatever a crash cut off)
                return n;
            }
        }

        public void Dispose()
        {
        }
    }

    private sealed class LockHandle(FaultInjectionFileSystem fs, string path) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                lock (fs._gate)
                {
                    fs._locks.Remove(path);
                }
            }
        }
    }
}
