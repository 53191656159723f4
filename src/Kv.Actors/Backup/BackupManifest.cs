using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kv.Actors.Backup;

/// <summary>One partition's file in a backup.</summary>
/// <param name="Name">The file's name in the backup directory.</param>
/// <param name="Partition">The partition (of the source ring).</param>
/// <param name="Node">The node whose vnode the snapshot was read from.</param>
/// <param name="Keys">How many objects it holds.</param>
/// <param name="Bytes">Its length.</param>
/// <param name="Sha256">The SHA-256 of its bytes (hex, lower case).</param>
public sealed record BackupFileEntry(string Name, int Partition, string Node, long Keys, long Bytes, string Sha256);

/// <summary>
/// MANIFEST.json of a backup directory, written last (a directory without one is no backup):
/// the format version, the source ring's size and version, the namespaces found, the files with
/// their key counts, lengths and SHA-256, when it was made and from which nodes.
/// </summary>
public sealed record BackupManifest(int Format, DateTimeOffset Created, int RingSize, long RingVersion, IReadOnlyList<string> SourceNodes,
    IReadOnlyList<string> Namespaces, IReadOnlyList<BackupFileEntry> Files)
{
    /// <summary>The manifest's file name.</summary>
    public const string FileName = "MANIFEST.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Every object in the backup.</summary>
    public long TotalKeys => Files.Sum(f => f.Keys);

    /// <summary>Writes the manifest into <paramref name="directory"/> (through a temporary file, synced, then renamed).</summary>
    public void Write(string directory)
    {
        string path = Path.Combine(directory, FileName);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            JsonSerializer.Serialize(stream, this, Json);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads the manifest of <paramref name="directory"/>; a missing or malformed one is a <see cref="BackupCorruptionException"/>.</summary>
    public static BackupManifest Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new BackupCorruptionException(FileName, $"missing: {directory} holds no complete backup");
        BackupManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<BackupManifest>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw new BackupCorruptionException(FileName, $"does not parse: {e.Message}");
        }
        if (manifest is null || manifest.Files is null || manifest.Namespaces is null || manifest.SourceNodes is null)
            throw new BackupCorruptionException(FileName, "incomplete");
        if (manifest.Format != BackupFile.Version)
            throw new BackupCorruptionException(FileName, $"format version {manifest.Format} (this kv reads {BackupFile.Version})");
        foreach (var f in manifest.Files)
        {
            if (f is null || string.IsNullOrEmpty(f.Name) || f.Name != Path.GetFileName(f.Name) || f.Sha256 is null)
                throw new BackupCorruptionException(FileName, "a file entry is malformed");
        }
        if (manifest.Files.Select(f => f.Name).Distinct(StringComparer.Ordinal).Count() != manifest.Files.Count)
            throw new BackupCorruptionException(FileName, "a file is listed twice");
        return manifest;
    }
}

/// <summary>What <see cref="BackupVerifier.Verify"/> found: the manifest (null if it was bad) and each damaged file with why.</summary>
public sealed record BackupVerification(BackupManifest? Manifest, IReadOnlyList<BackupCorruptionException> Problems)
{
    public bool Ok => Manifest is not null && Problems.Count == 0;
}

/// <summary>
/// Checks a backup directory: the manifest, then every file it lists: present, its length and
/// SHA-256 as listed, every record's checksum and object, the trailer, and the record count as
/// listed. Every damaged file is named, not only the first.
/// </summary>
public static class BackupVerifier
{
    /// <summary>Verifies <paramref name="directory"/>; <paramref name="onFile"/> is called after each file.</summary>
    public static BackupVerification Verify(string directory, Action<BackupFileEntry>? onFile = null)
    {
        BackupManifest manifest;
        try
        {
            manifest = BackupManifest.Read(directory);
        }
        catch (BackupCorruptionException e)
        {
            return new BackupVerification(null, [e]);
        }
        var problems = new List<BackupCorruptionException>();
        foreach (var entry in manifest.Files)
        {
            if (Check(directory, entry, manifest.RingSize) is { } problem)
                problems.Add(problem);
            onFile?.Invoke(entry);
        }
        return new BackupVerification(manifest, problems);
    }

    private static BackupCorruptionException? Check(string directory, BackupFileEntry entry, int ringSize)
    {
        string path = Path.Combine(directory, entry.Name);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
                return new BackupCorruptionException(entry.Name, "missing");
            if (info.Length != entry.Bytes)
                return new BackupCorruptionException(entry.Name, $"{info.Length} bytes, the manifest says {entry.Bytes}");
            string sha;
            using (var stream = File.OpenRead(path))
                sha = Convert.ToHexStringLower(SHA256.HashData(stream));
            // The records are read even when the hash differs: the detail says where the damage is.
            long count = 0;
            BackupFile.Header? header = null;
            foreach (var _ in BackupFile.Read(path, h => header = h))
                count++;
            if (!string.Equals(sha, entry.Sha256, StringComparison.OrdinalIgnoreCase))
                return new BackupCorruptionException(entry.Name, "SHA-256 differs from the manifest's");
            if (header is not { } h || h.Partition != entry.Partition || h.RingSize != ringSize)
                return new BackupCorruptionException(entry.Name, $"its header names partition {header?.Partition} of {header?.RingSize}, the manifest {entry.Partition} of {ringSize}");
            if (count != entry.Keys)
                return new BackupCorruptionException(entry.Name, $"{count} records, the manifest says {entry.Keys}");
            return null;
        }
        catch (BackupCorruptionException e)
        {
            return e;
        }
        catch (IOException e)
        {
            return new BackupCorruptionException(entry.Name, $"cannot be read: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            return new BackupCorruptionException(entry.Name, $"cannot be read: {e.Message}");
        }
    }
}
