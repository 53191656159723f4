using Kv.Storage.IO;
using Kv.Storage.Table;
using Kv.Storage.Versions;
using Kv.Storage.Wal;

namespace Kv.Storage;

/// <summary>
/// Checks every file of an engine directory without opening the engine (nothing is written): every
/// block of every table, every record of the MANIFEST and the WALs. Takes the directory lock, so it
/// refuses to run on an engine that is open.
/// </summary>
public static class StorageVerifier
{
    /// <summary>One finding: a corruption, or a note such as a torn WAL tail.</summary>
    public sealed record Finding(string File, long Offset, string Detail, bool IsCorruption);

    public sealed record Report(int Tables, long DataBlocks, int Logs, IReadOnlyList<Finding> Findings)
    {
        public bool Ok => !Findings.Any(f => f.IsCorruption);
    }

    public static Report Verify(string directory, IFileSystem? fs = null)
    {
        fs ??= PhysicalFileSystem.Instance;
        directory = Path.GetFullPath(directory);
        if (!fs.Exists(Path.Combine(directory, FileNames.Current)))
        {
            throw new DirectoryNotFoundException($"no storage engine in {directory} (no CURRENT file)");
        }
        using IDisposable dirLock = fs.Lock(Path.Combine(directory, FileNames.LockFile));
        var findings = new List<Finding>();
        var cache = new BlockCache(0);
        int tables = 0;
        int logs = 0;
        long blocks = 0;
        var names = fs.ListFiles(directory).OrderBy(n => n, StringComparer.Ordinal).ToList();
        foreach (string name in names)
        {
            string path = Path.Combine(directory, name);
            switch (FileNames.Parse(name, out _))
            {
                case FileNames.Kind.Table:
                    tables++;
                    try
                    {
                        using TableReader reader = TableReader.Open(fs, path, cache);
                        foreach (StorageCorruptionException e in reader.Verify(_ => blocks++))
                        {
                            findings.Add(new Finding(e.FileName, e.Offset, e.Detail, true));
                        }
                    }
                    catch (StorageCorruptionException e)
                    {
                        findings.Add(new Finding(e.FileName, e.Offset, e.Detail, true));
                    }
                    break;
                case FileNames.Kind.Wal:
                case FileNames.Kind.Manifest:
                    logs++;
                    CheckLog(fs, path, name, findings);
                    break;
            }
        }
        return new Report(tables, blocks, logs, findings);
    }

    private static void CheckLog(IFileSystem fs, string path, string name, List<Finding> findings)
    {
        using IRandomAccessFile file = fs.OpenRead(path);
        var reader = new LogReader(file, name);
        bool manifest = name.StartsWith("MANIFEST", StringComparison.Ordinal);
        while (reader.TryRead(out ReadOnlySpan<byte> record))
        {
            if (manifest && VersionEdit.TryDecode(record, out string error) is null)
            {
                findings.Add(new Finding(name, reader.GoodLength, $"bad version edit: {error}", true));
                return;
            }
        }
        switch (reader.End)
        {
            case LogEnd.Corruption:
                findings.Add(new Finding(name, reader.ErrorOffset, reader.ErrorDetail, true));
                break;
            case LogEnd.TornTail:
                findings.Add(new Finding(name, reader.ErrorOffset, $"torn tail ({reader.ErrorDetail}); recovery truncates it", false));
                break;
        }
    }
}
