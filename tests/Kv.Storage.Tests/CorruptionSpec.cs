using System.Text;
using static Kv.Storage.Tests.EngineHarness;

namespace Kv.Storage.Tests;

public class CorruptionSpec
{
    private static EngineHarness FilledAndFlushed(int keys = 300)
    {
        var h = new EngineHarness(EngineHarness.Small with { BloomBitsPerKey = 0 });
        for (int i = 0; i < keys; i++)
        {
            h.Engine.Put(B($"key{i:D4}"), B($"value{i:D4}-{new string('v', 40)}"));
        }
        h.Engine.CompactRange();
        return h;
    }

    private static StorageVerifier.Report VerifyClosed(EngineHarness h)
    {
        h.Engine.Dispose(); // verify takes the directory lock, like the kv tool does
        StorageVerifier.Report report = StorageVerifier.Verify(Dir, h.Fs);
        h.Reopen();
        return report;
    }

    /// <summary>100 durable puts of 400 B in one WAL; the engine is then abandoned without writing anything more.</summary>
    private static (EngineHarness H, string Wal) HundredDurableWritesInOneWal()
    {
        var h = new EngineHarness(EngineHarness.Small with { WriteBufferSize = 8 << 20 });
        for (int i = 0; i < 100; i++)
        {
            h.Engine.Put(B($"k{i:D3}"), B(new string('x', 400)), durable: true);
        }
        string wal = h.Fs.ListFiles(Dir).Single(n => n.EndsWith(".log", StringComparison.Ordinal));
        h.Fs.FailWrites = true;
        try
        {
            h.Engine.Dispose();
        }
        catch (IOException)
        {
        }
        h.Fs.FailWrites = false;
        return (h, wal);
    }

    private static string OnlyTable(EngineHarness h) => h.Fs.ListFiles(Dir).Single(n => n.EndsWith(".sst", StringComparison.Ordinal));

    [Fact]
    public void Every_flipped_bit_in_a_table_gives_the_right_value_or_a_corruption_error_never_wrong_data()
    {
        using EngineHarness h = FilledAndFlushed();
        string table = OnlyTable(h);
        long length = h.Fs.GetLength($"{Dir}/{table}");
        var rng = new Random(3);
        int errors = 0;
        for (int trial = 0; trial < 60; trial++)
        {
            long offset = rng.NextInt64(length);
            int bit = rng.Next(8);
            h.Fs.FlipBit($"{Dir}/{table}", offset, bit);
            h.Reopen(); // drop cached blocks and readers
            try
            {
                for (int i = 0; i < 300; i += 7)
                {
                    byte[]? v = h.Engine.Get(B($"key{i:D4}"));
                    Assert.Equal($"value{i:D4}-{new string('v', 40)}", S(v));
                }
            }
            catch (StorageCorruptionException e)
            {
                errors++;
                Assert.Equal(table, e.FileName);
            }
            h.Fs.FlipBit($"{Dir}/{table}", offset, bit); // repair
        }
        Assert.True(errors > 20, $"only {errors} of 60 flips were detected on read");
    }

    [Fact]
    public void Get_on_a_corrupt_block_fails_and_verify_names_the_block()
    {
        using EngineHarness h = FilledAndFlushed();
        string table = OnlyTable(h);
        h.Fs.FlipBit($"{Dir}/{table}", 100, 3); // inside the first data block
        h.Reopen();
        var e = Assert.Throws<StorageCorruptionException>(() => h.Engine.Get(B("key0000")));
        Assert.Equal(0, e.Offset);
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
        Assert.Equal("value0299-" + new string('v', 40), S(h.Engine.Get(B("key0299")))); // other blocks still serve
        StorageVerifier.Report report = VerifyClosed(h);
        StorageVerifier.Finding f = Assert.Single(report.Findings, x => x.IsCorruption);
        Assert.Equal(table, f.File);
        Assert.Contains("data block 0", f.Detail, StringComparison.Ordinal);
        Assert.Throws<StorageCorruptionException>(() => h.Engine.VerifyChecksums());
    }

    [Fact]
    public void A_corrupt_footer_or_index_fails_open_of_that_table_with_its_name()
    {
        using EngineHarness h = FilledAndFlushed();
        string table = OnlyTable(h);
        long length = h.Fs.GetLength($"{Dir}/{table}");
        h.Fs.FlipBit($"{Dir}/{table}", length - 20, 0); // footer crc/version area
        h.Reopen();
        var e = Assert.Throws<StorageCorruptionException>(() => h.Engine.Get(B("key0001")));
        Assert.Equal(table, e.FileName);
    }

    [Fact]
    public void A_corrupt_wal_record_in_the_middle_stops_replay_there_and_is_reported()
    {
        (EngineHarness h, string wal) = HundredDurableWritesInOneWal();
        // Record 50 starts at 50 * (7 + 20 + 2 + 4 + 1 + 2 + 400) bytes, within block 0 (all records are whole here).
        int recordSize = 7 + WriteBatch.HeaderSize + 1 + 1 + 4 + 2 + 400;
        h.Fs.FlipBit($"{Dir}/{wal}", 50L * recordSize + 30, 2);
        h.Reopen();
        RecoveryReport r = h.Engine.Recovery;
        Assert.NotNull(r.Corruption);
        Assert.Equal(wal, r.Corruption!.FileName);
        Assert.Equal([wal], r.QuarantinedLogs);
        Assert.True(h.Fs.Exists($"{Dir}/{wal}.corrupt"));
        // A prefix: keys before the damage are there, none after it.
        var present = h.Engine.ScanPrefix(B("k")).Select(kv => Encoding.ASCII.GetString(kv.Key)).ToList();
        Assert.Equal(Enumerable.Range(0, present.Count).Select(i => $"k{i:D3}"), present);
        Assert.InRange(present.Count, 45, 50);
        h.Dispose();
    }

    [Fact]
    public void Absolute_consistency_refuses_to_open_on_wal_corruption()
    {
        (EngineHarness h, string wal) = HundredDurableWritesInOneWal();
        h.Fs.FlipBit($"{Dir}/{wal}", 1000, 0);
        var e = Assert.Throws<StorageCorruptionException>(() =>
            LsmEngine.Open(Dir, h.Options with { RecoveryMode = WalRecoveryMode.AbsoluteConsistency }));
        Assert.Equal(wal, e.FileName);
        h.Env.Dispose();
    }

    [Fact]
    public void A_corrupt_manifest_or_current_refuses_to_open_rather_than_guess()
    {
        using EngineHarness h = FilledAndFlushed();
        h.Engine.Dispose();
        string manifest = h.Fs.ListFiles(Dir).Single(n => n.StartsWith("MANIFEST-", StringComparison.Ordinal));
        h.Fs.FlipBit($"{Dir}/{manifest}", 12, 5);
        var e = Assert.Throws<StorageCorruptionException>(() => LsmEngine.Open(Dir, h.Options));
        Assert.Equal(manifest, e.FileName);
        h.Fs.FlipBit($"{Dir}/{manifest}", 12, 5);
        using (Kv.Storage.IO.IWritableFile f = h.Fs.Create($"{Dir}/CURRENT"))
        {
            f.Append("MANIFEST-999999\n"u8);
        }
        var missing = Assert.Throws<StorageCorruptionException>(() => LsmEngine.Open(Dir, h.Options));
        Assert.Contains("missing", missing.Message, StringComparison.Ordinal);
        Assert.Throws<StorageCorruptionException>(() => LsmEngine.Open(Dir, h.Options));
        // Leave an engine open for the harness to dispose.
        h.Fs.Delete($"{Dir}/CURRENT");
        h.Reopen(h.Options with { });
    }
}
