using System.Text;
using Kv.Storage.IO;
using Kv.Storage.Wal;

namespace Kv.Storage.Versions;

/// <summary>
/// The current <see cref="Version"/>, the counters that go with it, and the MANIFEST that logs every
/// change. A new MANIFEST (a full snapshot) is written at open and whenever the old one grows large;
/// CURRENT is replaced atomically: temp file, fsync, rename, fsync of the directory.
/// </summary>
internal sealed class VersionSet : IDisposable
{
    private const long ManifestRollBytes = 4L << 20;
    private readonly IFileSystem _fs;
    private readonly string _dir;
    private readonly List<Version> _live = [];
    private readonly byte[]?[] _compactPointers = new byte[]?[Version.NumLevels];
    private LogWriter? _manifest;
    private long _nextFileNumber = 2;

    public VersionSet(IFileSystem fs, string dir, TableCache tables)
    {
        _fs = fs;
        _dir = dir;
        Tables = tables;
        Current = Empty(tables);
        Current.Ref();
        _live.Add(Current);
    }

    public TableCache Tables { get; }

    public Version Current { get; private set; }

    public long LogNumber { get; private set; }

    public ulong LastSequence { get; private set; }

    /// <summary>With a shared commit log: the highest sequence known to be in a table.</summary>
    public ulong CommitLogFloor { get; private set; }

    public long ManifestNumber { get; private set; }

    public long NextFileNumber => Interlocked.Read(ref _nextFileNumber);

    public long NewFileNumber() => Interlocked.Increment(ref _nextFileNumber) - 1;

    /// <summary>Makes sure file numbers already in use (e.g. WALs found on disk) are never handed out again.</summary>
    public void MarkFileNumberUsed(long number)
    {
        long seen;
        while ((seen = Interlocked.Read(ref _nextFileNumber)) <= number)
        {
            Interlocked.CompareExchange(ref _nextFileNumber, number + 1, seen);
        }
    }

    public byte[]? CompactPointer(int level) => _compactPointers[level];

    /// <summary>Loads the state named by CURRENT. Any damage to CURRENT or the MANIFEST (other than a torn last record) is corruption.</summary>
    public void Recover()
    {
        string currentPath = Path.Combine(_dir, FileNames.Current);
        string name;
        using (IRandomAccessFile cur = _fs.OpenRead(currentPath))
        {
            var buf = new byte[Math.Min(cur.Length, 256)];
            int n = cur.Read(0, buf);
            name = Encoding.ASCII.GetString(buf, 0, n);
        }
        if (!name.EndsWith('\n') || FileNames.Parse(name.TrimEnd('\n'), out long manifestNumber) != FileNames.Kind.Manifest)
        {
            throw new StorageCorruptionException(FileNames.Current, 0, "CURRENT does not name a MANIFEST");
        }
        string manifestPath = Path.Combine(_dir, name.TrimEnd('\n'));
        if (!_fs.Exists(manifestPath))
        {
            throw new StorageCorruptionException(name.TrimEnd('\n'), 0, "the MANIFEST named by CURRENT is missing");
        }
        var files = NewLevels();
        bool haveLog = false;
        bool haveNext = false;
        bool haveSeq = false;
        using (IRandomAccessFile file = _fs.OpenRead(manifestPath))
        {
            var reader = new LogReader(file, name);
            while (reader.TryRead(out ReadOnlySpan<byte> record))
            {
                VersionEdit? edit = VersionEdit.TryDecode(record, out string error);
                if (edit is null)
                {
                    throw new StorageCorruptionException(Path.GetFileName(manifestPath), reader.GoodLength, $"bad version edit: {error}");
                }
                if (edit.Comparator is not null && edit.Comparator != VersionEdit.ComparatorName)
                {
                    throw new StorageCorruptionException(Path.GetFileName(manifestPath), 0, $"database uses comparator {edit.Comparator}, not {VersionEdit.ComparatorName}");
                }
                Apply(files, edit);
                if (edit.LogNumber is long log)
                {
                    LogNumber = log;
                    haveLog = true;
                }
                if (edit.NextFileNumber is long next)
                {
                    _nextFileNumber = next;
                    haveNext = true;
                }
                if (edit.LastSequence is ulong seq)
                {
                    LastSequence = seq;
                    haveSeq = true;
                }
                if (edit.CommitLogFloor is ulong floor)
                {
                    CommitLogFloor = floor;
                }
                foreach ((int level, byte[] key) in edit.CompactPointers)
                {
                    _compactPointers[level] = key;
                }
            }
            if (reader.End == LogEnd.Corruption)
            {
                throw new StorageCorruptionException(Path.GetFileName(manifestPath), reader.ErrorOffset, reader.ErrorDetail);
            }
        }
        if (!haveLog || !haveNext || !haveSeq)
        {
            throw new StorageCorruptionException(Path.GetFileName(manifestPath), 0, "MANIFEST lacks log number, next file number or last sequence");
        }
        CheckLevels(files, Path.GetFileName(manifestPath));
        MarkFileNumberUsed(manifestNumber);
        Install(new Version(files, Tables));
    }

    /// <summary>
    /// Logs <paramref name="edit"/> durably and then, under <paramref name="mutex"/>, installs the
    /// version it produces and runs <paramref name="onInstall"/>. Callers serialize calls.
    /// </summary>
    public void LogAndApply(VersionEdit edit, object mutex, Action? onInstall = null)
    {
        var files = CopyLevels(Current);
        Apply(files, edit);
        var next = new Version(files, Tables);
        edit.NextFileNumber = NextFileNumber;
        long logNumber = edit.LogNumber ?? LogNumber;
        ulong lastSequence = edit.LastSequence ?? LastSequence;
        ulong floor = Math.Max(edit.CommitLogFloor ?? 0, CommitLogFloor);
        edit.LogNumber = logNumber;
        edit.LastSequence = lastSequence;
        edit.CommitLogFloor = floor == 0 ? null : floor;
        if (_manifest is null || _manifest.Length > ManifestRollBytes)
        {
            WriteNewManifest(next, logNumber, lastSequence, floor, edit.CompactPointers);
        }
        else
        {
            _manifest.AddRecord(edit.Encode());
            _manifest.Sync();
        }
        lock (mutex)
        {
            LogNumber = logNumber;
            LastSequence = lastSequence;
            CommitLogFloor = floor;
            foreach ((int level, byte[] key) in edit.CompactPointers)
            {
                _compactPointers[level] = key;
            }
            Install(next);
            onInstall?.Invoke();
        }
    }

    /// <summary>Numbers of every table in a version someone still reads. Call under the engine mutex.</summary>
    public HashSet<long> LiveFiles()
    {
        var live = new HashSet<long>();
        _live.RemoveAll(v => v.Refs <= 0);
        foreach (Version v in _live)
        {
            foreach (List<FileMetadata> level in v.Files)
            {
                foreach (FileMetadata f in level)
                {
                    live.Add(f.Number);
                }
            }
        }
        return live;
    }

    private void WriteNewManifest(Version v, long logNumber, ulong lastSequence, ulong floor, List<(int, byte[])> pointers)
    {
        long number = NewFileNumber();
        var snapshot = new VersionEdit
        {
            Comparator = VersionEdit.ComparatorName,
            LogNumber = logNumber,
            NextFileNumber = NextFileNumber,
            LastSequence = lastSequence,
            CommitLogFloor = floor == 0 ? null : floor,
        };
        for (int level = 0; level < Version.NumLevels; level++)
        {
            if (_compactPointers[level] is byte[] cp)
            {
                snapshot.CompactPointers.Add((level, cp));
            }
            foreach (FileMetadata f in v.Files[level])
            {
                snapshot.NewFiles.Add((level, f));
            }
        }
        snapshot.CompactPointers.AddRange(pointers);
        string path = FileNames.Manifest(_dir, number);
        var writer = new LogWriter(_fs.Create(path));
        try
        {
            writer.AddRecord(snapshot.Encode());
            writer.Sync();
            SetCurrent(number);
        }
        catch
        {
            writer.Dispose();
            throw;
        }
        _manifest?.Dispose();
        _manifest = writer;
        ManifestNumber = number;
    }

    private void SetCurrent(long manifestNumber)
    {
        string tmp = FileNames.Temp(_dir, manifestNumber);
        using (IWritableFile f = _fs.Create(tmp))
        {
            f.Append(Encoding.ASCII.GetBytes($"MANIFEST-{manifestNumber:D6}\n"));
            f.Sync();
        }
        _fs.Rename(tmp, Path.Combine(_dir, FileNames.Current));
        _fs.SyncDirectory(_dir);
    }

    private void Install(Version v)
    {
        v.Ref();
        _live.Add(v);
        Version old = Current;
        Current = v;
        old.Unref();
    }

    private static void Apply(List<FileMetadata>[] files, VersionEdit edit)
    {
        foreach ((int level, long number) in edit.DeletedFiles)
        {
            files[level].RemoveAll(f => f.Number == number);
        }
        foreach ((int level, FileMetadata f) in edit.NewFiles)
        {
            files[level].RemoveAll(x => x.Number == f.Number);
            files[level].Add(f);
        }
        // Level 0 newest first: by order number (a file's own number unless it is a repaired
        // table standing in for an older one), then by number.
        files[0].Sort((a, b) => a.OrderNumber != b.OrderNumber ? b.OrderNumber.CompareTo(a.OrderNumber) : b.Number.CompareTo(a.Number));
        for (int level = 1; level < Version.NumLevels; level++)
        {
            files[level].Sort((a, b) => InternalKey.Compare(a.Smallest, b.Smallest));
        }
    }

    private static void CheckLevels(List<FileMetadata>[] files, string manifest)
    {
        for (int level = 1; level < Version.NumLevels; level++)
        {
            for (int i = 1; i < files[level].Count; i++)
            {
                if (InternalKey.Compare(files[level][i - 1].Largest, files[level][i].Smallest) >= 0)
                {
                    throw new StorageCorruptionException(manifest, 0, $"overlapping files {files[level][i - 1].Number} and {files[level][i].Number} in level {level}");
                }
            }
        }
    }

    private static List<FileMetadata>[] NewLevels()
    {
        var files = new List<FileMetadata>[Version.NumLevels];
        for (int i = 0; i < files.Length; i++)
        {
            files[i] = [];
        }
        return files;
    }

    private static List<FileMetadata>[] CopyLevels(Version v)
    {
        var files = new List<FileMetadata>[Version.NumLevels];
        for (int i = 0; i < files.Length; i++)
        {
            files[i] = [.. v.Files[i]];
        }
        return files;
    }

    private static Version Empty(TableCache tables) => new(NewLevels(), tables);

    public void Dispose() => _manifest?.Dispose();
}
