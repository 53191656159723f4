using System.Text;
using Kv.Actors.Backup;
using Kv.Actors.Objects;
using Xunit;

namespace Kv.Actors.Tests;

/// <summary>
/// The backup file format and its verification: records round trip (all siblings and the causal
/// context), and a truncated file, a flipped byte (record checksum, SHA-256), a missing or extra
/// record, a missing file and a damaged manifest are each found and the file named.
/// </summary>
public sealed class BackupFileSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-backup-spec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static DvvSet<Sibling> Siblings(int i, int count)
    {
        // Concurrent writes from different vnodes: one sibling each.
        var obj = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(Encoding.UTF8.GetBytes($"v{i}-0"), "text/plain", 1000 + i, false)), "vn0");
        for (int s = 1; s < count; s++)
            obj = DvvSet<Sibling>.Sync(obj, DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(Encoding.UTF8.GetBytes($"v{i}-{s}"), "text/plain", 1000 + i, false)), $"vn{s}"));
        return obj;
    }

    /// <summary>A backup of two partitions (3 and 7 of 16) with a manifest; the records written.</summary>
    private List<BackupRecord> WriteBackup()
    {
        var written = new List<BackupRecord>();
        var entries = new List<BackupFileEntry>();
        foreach (int partition in new[] { 3, 7 })
        {
            using var writer = new BackupFile.Writer(Path.Combine(_dir, BackupFile.NameOf(partition)), partition, 16);
            for (int i = 0; i < 50; i++)
            {
                var record = new BackupRecord(Encoding.UTF8.GetBytes(i % 2 == 0 ? "default" : "other"), Encoding.UTF8.GetBytes($"p{partition}/k{i}"), KvObjectCodec.Encode(Siblings(i, 1 + i % 3)));
                writer.Add(record.Namespace, record.Key, record.Object);
                written.Add(record);
            }
            var (count, length, sha) = writer.Finish();
            entries.Add(new BackupFileEntry(BackupFile.NameOf(partition), partition, "akka.tcp://kv@h:1", count, length, sha));
        }
        new BackupManifest(BackupFile.Version, DateTimeOffset.UtcNow, 16, 3, ["akka.tcp://kv@h:1"], ["default", "other"], entries).Write(_dir);
        return written;
    }

    [Fact]
    public void Records_round_trip_with_all_their_siblings_and_the_backup_verifies()
    {
        var written = WriteBackup();
        var verified = BackupVerifier.Verify(_dir);
        Assert.True(verified.Ok, string.Join("; ", verified.Problems.Select(p => p.Message)));
        Assert.Equal(100, verified.Manifest!.TotalKeys);
        Assert.Equal(["default", "other"], verified.Manifest.Namespaces);
        var read = BackupFile.Read(Path.Combine(_dir, BackupFile.NameOf(3))).Concat(BackupFile.Read(Path.Combine(_dir, BackupFile.NameOf(7)))).ToList();
        Assert.Equal(written.Count, read.Count);
        for (int i = 0; i < read.Count; i++)
        {
            Assert.Equal(written[i].Namespace, read[i].Namespace);
            Assert.Equal(written[i].Key, read[i].Key);
            Assert.Equal(written[i].Object, read[i].Object);
            var obj = KvObjectCodec.Decode(read[i].Object);
            Assert.Equal(1 + i % 50 % 3, obj.Values.Count);
            Assert.True(obj.SameAs(KvObjectCodec.Decode(written[i].Object)));
        }
    }

    [Fact]
    public void A_truncated_file_is_named_and_never_read_as_whole()
    {
        WriteBackup();
        string path = Path.Combine(_dir, BackupFile.NameOf(7));
        var bytes = File.ReadAllBytes(path);
        // Cut inside the trailer, inside a record, and exactly at a record's end (no trailer at all).
        foreach (int cut in new[] { bytes.Length - 3, bytes.Length / 2, bytes.Length - 16 })
        {
            File.WriteAllBytes(path, bytes[..cut]);
            var e = Assert.Throws<BackupCorruptionException>(() => BackupFile.Read(path).Count());
            Assert.Equal(BackupFile.NameOf(7), e.File);
            var verified = BackupVerifier.Verify(_dir);
            Assert.False(verified.Ok);
            Assert.Equal([BackupFile.NameOf(7)], verified.Problems.Select(p => p.File));
        }
    }

    [Fact]
    public void A_flipped_byte_fails_its_record_checksum_and_verify_names_only_that_file()
    {
        WriteBackup();
        string path = Path.Combine(_dir, BackupFile.NameOf(3));
        var bytes = File.ReadAllBytes(path);
        bytes[20 + 8 + 3] ^= 0x40; // in the first record's payload (its namespace)
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<BackupCorruptionException>(() => BackupFile.Read(path).Count());
        Assert.Contains("checksum", e.Detail, StringComparison.Ordinal);
        var verified = BackupVerifier.Verify(_dir);
        var problem = Assert.Single(verified.Problems);
        Assert.Equal(BackupFile.NameOf(3), problem.File);
    }

    [Fact]
    public void A_file_rewritten_whole_but_not_the_one_listed_fails_its_hash_and_count()
    {
        WriteBackup();
        // A valid file of partition 3 with one record fewer: every record checks, the manifest does not.
        string path = Path.Combine(_dir, BackupFile.NameOf(3));
        var records = BackupFile.Read(path).ToList();
        File.Delete(path);
        using (var writer = new BackupFile.Writer(path, 3, 16))
        {
            foreach (var r in records.Skip(1))
                writer.Add(r.Namespace, r.Key, r.Object);
            writer.Finish();
        }
        var problem = Assert.Single(BackupVerifier.Verify(_dir).Problems);
        Assert.Equal(BackupFile.NameOf(3), problem.File);
        // A missing file is named too.
        File.Delete(path);
        problem = Assert.Single(BackupVerifier.Verify(_dir).Problems);
        Assert.Equal((BackupFile.NameOf(3), "missing"), (problem.File, problem.Detail));
    }

    [Fact]
    public void A_missing_or_damaged_manifest_is_named_and_a_bad_object_is_refused_when_written()
    {
        WriteBackup();
        string manifest = Path.Combine(_dir, BackupManifest.FileName);
        File.WriteAllText(manifest, "{ not json");
        Assert.Equal(BackupManifest.FileName, Assert.Single(BackupVerifier.Verify(_dir).Problems).File);
        File.Delete(manifest);
        Assert.Equal(BackupManifest.FileName, Assert.Single(BackupVerifier.Verify(_dir).Problems).File);
        // The writer checks what it is given: an object that does not decode is never written.
        using var writer = new BackupFile.Writer(Path.Combine(_dir, "x.kvb"), 0, 16);
        Assert.Throws<FormatException>(() => writer.Add("default"u8.ToArray(), "k"u8.ToArray(), [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => writer.Add([], "k"u8.ToArray(), KvObjectCodec.Encode(Siblings(0, 1))));
    }
}
