using System.Collections.Concurrent;
using System.Text;
using Kv.Storage.IO;
using Kv.Storage.Table;
using Kv.Storage.Versions;
using static Kv.Storage.Tests.EngineHarness;

namespace Kv.Storage.Tests;

public class TableRepairSpec
{
    private const int Keys = 300;

    private static string Key(int i) => $"key{i:D4}";

    private static string Value(string version, int i) => $"{version}-{i:D4}-{new string('v', 40)}";

    /// <summary>A data block of a table as the test sees it before damaging it.</summary>
    private sealed record BlockInfo(long Offset, long Size, int Entries, List<string> UserKeys);

    private static List<BlockInfo> ReadBlocks(EngineHarness h, string table)
    {
        using TableReader reader = TableReader.Open(h.Fs, $"{Dir}/{table}", new BlockCache(0));
        var blocks = new List<BlockInfo>();
        foreach (TableReader.DataBlock b in reader.DataBlocks())
        {
            Assert.Null(b.Error);
            var keys = new List<string>();
            int entries = 0;
            BlockIterator it = b.Block!.NewIterator();
            for (it.SeekToFirst(); it.Valid; it.Next())
            {
                entries++;
                keys.Add(Encoding.UTF8.GetString(InternalKey.UserKey(it.Key)));
            }
            blocks.Add(new BlockInfo(b.Handle.Offset, b.Handle.Size, entries, keys));
        }
        return blocks;
    }

    private static (BlockHandle MetaIndex, BlockHandle Index) Footer(EngineHarness h, string table)
    {
        using IRandomAccessFile f = h.Fs.OpenRead($"{Dir}/{table}");
        var footer = new byte[TableFormat.FooterSize];
        Assert.Equal(footer.Length, f.Read(f.Length - footer.Length, footer));
        return TableFormat.ReadFooter(footer, table, f.Length - footer.Length);
    }

    private static List<string> TableFiles(EngineHarness h) =>
        [.. h.Fs.ListFiles(Dir).Where(n => n.EndsWith(".sst", StringComparison.Ordinal)).OrderBy(n => n, StringComparer.Ordinal)];

    /// <summary>Flips a bit in the middle of <paramref name="block"/> and reopens, so no reader or cached block survives.</summary>
    private static void Corrupt(EngineHarness h, string table, BlockInfo block)
    {
        h.Fs.FlipBit($"{Dir}/{table}", block.Offset + block.Size / 2, 3);
        h.Reopen();
    }

    private static EngineHarness NewHarness(ConcurrentQueue<string>? log = null) =>
        new(Small with { Log = log is null ? null : log.Enqueue });

    [Fact]
    public void A_bad_block_in_a_level_1_table_is_cut_out_and_older_versions_below_show_again()
    {
        var log = new ConcurrentQueue<string>();
        using EngineHarness h = NewHarness(log);
        // v1 of the even keys in level 2, v2 of every key in level 1.
        for (int i = 0; i < Keys; i += 2)
        {
            h.Engine.Put(B(Key(i)), B(Value("v1", i)));
        }
        h.Engine.CompactRange();
        h.Engine.CompactLevel(1);
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B(Key(i)), B(Value("v2", i)));
        }
        h.Engine.Flush();
        h.Engine.CompactLevel(0);
        StorageStatistics stats = h.Engine.GetStatistics();
        Assert.Equal(new long[] { 0, 1, 1 }, stats.LevelFiles[..3]);
        string table = TableFiles(h)[^1]; // the level-1 table is the newest file
        List<BlockInfo> blocks = ReadBlocks(h, table);
        Assert.True(blocks.Count >= 10, $"only {blocks.Count} data blocks");
        int victimIndex = blocks.Count / 2;
        BlockInfo victim = blocks[victimIndex];
        Corrupt(h, table, victim);

        // A read in the bad block fails; it never returns the older v1 or garbage.
        var e = Assert.Throws<StorageCorruptionException>(() => h.Engine.Get(B(victim.UserKeys[victim.UserKeys.Count / 2])));
        Assert.Equal(table, e.FileName);

        TableRepairReport report = h.Engine.RepairTable(e.FileName);
        Assert.Null(report.Skipped);
        Assert.Equal(table, report.File);
        Assert.Equal(1, report.Level);
        Assert.Equal(1, report.BadBlocks);
        Assert.NotNull(report.NewFile);
        Assert.Equal(Keys - victim.Entries, report.EntriesKept);
        KeyRange lost = Assert.Single(report.LostRanges);
        Assert.Equal(blocks[victimIndex - 1].UserKeys[^1], S(lost.Low)); // previous block's last key
        Assert.Equal(victim.UserKeys[^1], S(lost.High));                 // the bad block's index key
        Assert.All(victim.UserKeys, k => Assert.True(lost.Contains(B(k)), k));

        var lostKeys = victim.UserKeys.ToHashSet();
        void CheckValues()
        {
            // Outside the lost block: v2; inside: the older v1 from level 2 where there is one, else nothing.
            for (int i = 0; i < Keys; i++)
            {
                string expected = !lostKeys.Contains(Key(i)) ? Value("v2", i) : i % 2 == 0 ? Value("v1", i) : "<null>";
                Assert.Equal(expected, S(h.Engine.Get(B(Key(i)))));
            }
        }
        void CheckContents()
        {
            CheckValues();
            h.Engine.VerifyChecksums();
            Assert.False(h.Fs.Exists($"{Dir}/{table}"));
            Assert.True(h.Fs.Exists($"{Dir}/{report.NewFile}"));
            Assert.Equal(new long[] { 0, 1, 1 }, h.Engine.GetStatistics().LevelFiles[..3]);
        }
        CheckContents();
        stats = h.Engine.GetStatistics();
        Assert.Equal(1, stats.TablesRepaired);
        Assert.Equal(1, stats.CorruptBlocksFound);
        Assert.Contains(log, l => l.Contains($"repaired table {table} in level 1", StringComparison.Ordinal));

        h.Reopen();
        CheckContents();
        // Compacting everything afterwards works (no overlap or ordering damage in the levels).
        h.Engine.CompactRange();
        CheckValues();
    }

    [Fact]
    public void A_repaired_level_0_table_stays_below_newer_level_0_tables()
    {
        using EngineHarness h = NewHarness();
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B(Key(i)), B(Value("v1", i)));
        }
        h.Engine.Flush();
        for (int i = 0; i < Keys; i += 2)
        {
            h.Engine.Put(B(Key(i)), B(Value("v2", i)));
        }
        h.Engine.Flush();
        Assert.Equal(2, h.Engine.GetStatistics().LevelFiles[0]);
        List<string> tables = TableFiles(h);
        Assert.Equal(2, tables.Count);
        string older = tables[0];
        string newer = tables[1];
        List<BlockInfo> blocks = ReadBlocks(h, older);
        BlockInfo victim = blocks[blocks.Count / 2];
        Corrupt(h, older, victim);

        string odd = victim.UserKeys.First(k => int.Parse(k[3..], System.Globalization.CultureInfo.InvariantCulture) % 2 == 1);
        var e = Assert.Throws<StorageCorruptionException>(() => h.Engine.Get(B(odd)));
        TableRepairReport report = h.Engine.RepairTable(e.FileName);
        Assert.Null(report.Skipped);
        Assert.Equal(0, report.Level);
        Assert.Equal(1, report.BadBlocks);
        Assert.Equal(Keys - victim.Entries, report.EntriesKept);
        // The new table's number is above the newer table's: by file number it would come first.
        Assert.True(string.CompareOrdinal(report.NewFile, newer) > 0);

        var lostKeys = victim.UserKeys.ToHashSet();
        void CheckContents()
        {
            for (int i = 0; i < Keys; i++)
            {
                string expected = i % 2 == 0 ? Value("v2", i) : lostKeys.Contains(Key(i)) ? "<null>" : Value("v1", i);
                Assert.Equal(expected, S(h.Engine.Get(B(Key(i)))));
            }
            // Iterators merge by sequence and agree.
            var scanned = h.Engine.ScanPrefix(B("key")).ToDictionary(kv => S(kv.Key), kv => S(kv.Value));
            for (int i = 0; i < Keys; i++)
            {
                Assert.Equal(S(h.Engine.Get(B(Key(i)))), scanned.TryGetValue(Key(i), out string? v) ? v : "<null>");
            }
            h.Engine.VerifyChecksums();
            Assert.False(h.Fs.Exists($"{Dir}/{older}"));
            Assert.Equal(2, h.Engine.GetStatistics().LevelFiles[0]);
        }
        CheckContents();
        h.Reopen(); // the order number survives in the MANIFEST
        CheckContents();
        h.Engine.CompactRange(); // and level-0 compaction merges correctly
        for (int i = 0; i < Keys; i++)
        {
            string expected = i % 2 == 0 ? Value("v2", i) : lostKeys.Contains(Key(i)) ? "<null>" : Value("v1", i);
            Assert.Equal(expected, S(h.Engine.Get(B(Key(i)))));
        }
    }

    [Fact]
    public void A_corrupt_index_drops_the_whole_table_and_reports_its_whole_range()
    {
        using EngineHarness h = NewHarness();
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B(Key(i)), B(Value("v1", i)));
        }
        h.Engine.CompactRange();
        string table = Assert.Single(TableFiles(h));
        BlockHandle index = Footer(h, table).Index;
        h.Fs.FlipBit($"{Dir}/{table}", index.Offset + index.Size / 2, 1);
        h.Reopen();
        var e = Assert.Throws<StorageCorruptionException>(() => h.Engine.Get(B(Key(1))));

        TableRepairReport report = h.Engine.RepairTable(e.FileName);
        Assert.Null(report.Skipped);
        Assert.Null(report.NewFile);
        Assert.Equal(1, report.Level);
        Assert.Equal(1, report.BadBlocks);
        Assert.Equal(0, report.EntriesKept);
        KeyRange lost = Assert.Single(report.LostRanges);
        Assert.Equal(Key(0), S(lost.Low));
        Assert.Equal(Key(Keys - 1), S(lost.High));
        void CheckEmpty()
        {
            for (int i = 0; i < Keys; i += 7)
            {
                Assert.Null(h.Engine.Get(B(Key(i))));
            }
            Assert.Equal(0, h.Engine.VerifyChecksums());
            Assert.Empty(TableFiles(h));
            Assert.All(h.Engine.GetStatistics().LevelFiles, n => Assert.Equal(0, n));
        }
        CheckEmpty();
        h.Reopen();
        CheckEmpty();
    }

    [Fact]
    public void A_corrupt_filter_block_loses_nothing()
    {
        using EngineHarness h = NewHarness();
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B(Key(i)), B(Value("v1", i)));
        }
        h.Engine.CompactRange();
        string table = Assert.Single(TableFiles(h));
        BlockInfo last = ReadBlocks(h, table)[^1];
        long filter = last.Offset + last.Size + TableFormat.BlockTrailerSize; // the filter block follows the data
        h.Fs.FlipBit($"{Dir}/{table}", filter + 2, 0);
        h.Reopen();
        var e = Assert.Throws<StorageCorruptionException>(() => h.Engine.Get(B(Key(1))));

        TableRepairReport report = h.Engine.RepairTable(e.FileName);
        Assert.Null(report.Skipped);
        Assert.NotNull(report.NewFile);
        Assert.Equal(1, report.BadBlocks);
        Assert.Equal(Keys, report.EntriesKept);
        Assert.Empty(report.LostRanges);
        for (int i = 0; i < Keys; i++)
        {
            Assert.Equal(Value("v1", i), S(h.Engine.Get(B(Key(i)))));
        }
        h.Engine.VerifyChecksums();
    }

    [Fact]
    public void RepairDamagedTables_finds_and_repairs_exactly_the_damaged_table()
    {
        using EngineHarness h = NewHarness();
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B(Key(i)), B(Value("v1", i)));
        }
        h.Engine.CompactRange(); // one table in level 1
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B($"other{i:D4}"), B(Value("o", i)));
        }
        h.Engine.Flush(); // level 0
        for (int i = 0; i < 100; i++)
        {
            h.Engine.Put(B($"third{i:D4}"), B(Value("t", i)));
        }
        h.Engine.Flush(); // level 0
        List<string> tables = TableFiles(h);
        Assert.Equal(3, tables.Count);
        Assert.Empty(h.Engine.RepairDamagedTables());
        Assert.Equal(0, h.Engine.GetStatistics().TablesRepaired);

        string damaged = tables[1]; // the "other" keys
        List<BlockInfo> blocks = ReadBlocks(h, damaged);
        BlockInfo victim = blocks[blocks.Count / 2];
        Corrupt(h, damaged, victim);
        Assert.Throws<StorageCorruptionException>(() => h.Engine.VerifyChecksums());

        TableRepairReport report = Assert.Single(h.Engine.RepairDamagedTables());
        Assert.Equal(damaged, report.File);
        Assert.Null(report.Skipped);
        Assert.Equal(0, report.Level);
        Assert.Equal(1, report.BadBlocks);
        Assert.Equal(Keys - victim.Entries, report.EntriesKept);
        Assert.All(victim.UserKeys, k => Assert.Contains(report.LostRanges, r => r.Contains(B(k))));
        Assert.Empty(h.Engine.RepairDamagedTables());
        h.Engine.VerifyChecksums();
        Assert.True(h.Fs.Exists($"{Dir}/{tables[0]}"));
        Assert.True(h.Fs.Exists($"{Dir}/{tables[2]}"));
        Assert.False(h.Fs.Exists($"{Dir}/{damaged}"));
        for (int i = 0; i < Keys; i++)
        {
            Assert.Equal(Value("v1", i), S(h.Engine.Get(B(Key(i)))));
            string other = $"other{i:D4}";
            Assert.Equal(victim.UserKeys.Contains(other) ? "<null>" : Value("o", i), S(h.Engine.Get(B(other))));
        }
    }

    [Fact]
    public void Repairing_a_name_that_is_not_a_live_table_is_skipped_and_changes_nothing()
    {
        using EngineHarness h = NewHarness();
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B(Key(i)), B(Value("v1", i)));
        }
        h.Engine.Flush();
        string flushed = Assert.Single(TableFiles(h));
        h.Engine.CompactRange(); // the flushed table is compacted away
        string live = Assert.Single(TableFiles(h));
        Assert.NotEqual(flushed, live);
        List<string> files = [.. h.Fs.ListFiles(Dir).Order(StringComparer.Ordinal)];

        foreach (string name in new[] { flushed, "999999.sst", "MANIFEST-000001", "CURRENT", "junk" })
        {
            TableRepairReport r = h.Engine.RepairTable(name);
            Assert.NotNull(r.Skipped);
            Assert.Null(r.NewFile);
            Assert.Equal(-1, r.Level);
            Assert.Empty(r.LostRanges);
        }
        Assert.Equal(files, h.Fs.ListFiles(Dir).Order(StringComparer.Ordinal));
        Assert.Equal(0, h.Engine.GetStatistics().TablesRepaired);
        Assert.Equal(Value("v1", 7), S(h.Engine.Get(B(Key(7)))));

        // A full path to a live, intact table: rewritten, nothing lost.
        TableRepairReport intact = h.Engine.RepairTable($"{Dir}/{live}");
        Assert.Null(intact.Skipped);
        Assert.Equal(0, intact.BadBlocks);
        Assert.Equal(Keys, intact.EntriesKept);
        Assert.Empty(intact.LostRanges);
        // Asking again for the replaced table: it is no longer live.
        Assert.NotNull(h.Engine.RepairTable(live).Skipped);
    }

    [Fact]
    public async Task Repairs_run_alongside_writes_reads_flushes_and_compactions()
    {
        using EngineHarness h = NewHarness();
        for (int i = 0; i < Keys; i++)
        {
            h.Engine.Put(B(Key(i)), B(Value("v1", i)));
        }
        h.Engine.CompactRange();
        string name = Assert.Single(TableFiles(h));
        var errors = new ConcurrentQueue<Exception>();
        using var stop = new CancellationTokenSource();
        int written = 0;
        // Writes of other keys ("w..." sort after "key..."): flushes and level-0 compactions run, but
        // level 1 stays under its size limit, so the repaired table is never a compaction input.
        // The table is repaired (rewritten whole) over and over until the writer is done.
        Task writer = Task.Run(() =>
        {
            try
            {
                for (int n = 0; n < 5000 && !stop.IsCancellationRequested; n++)
                {
                    h.Engine.Put(B($"w{n:D6}"), B(Value("w", n)));
                    Volatile.Write(ref written, n + 1);
                    if (n % 300 == 299)
                    {
                        h.Engine.Flush();
                    }
                }
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        });
        Task reader = Task.Run(() =>
        {
            try
            {
                var rng = new Random(1);
                while (!stop.IsCancellationRequested)
                {
                    int i = rng.Next(Keys);
                    Assert.Equal(Value("v1", i), S(h.Engine.Get(B(Key(i)))));
                }
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        });
        int rounds = 0;
        for (; rounds < 20 || !writer.IsCompleted; rounds++)
        {
            TableRepairReport r = h.Engine.RepairTable(name);
            Assert.Null(r.Skipped);
            Assert.Equal(Keys, r.EntriesKept);
            Assert.Empty(r.LostRanges);
            name = r.NewFile!;
        }
        stop.Cancel();
        await Task.WhenAll(writer, reader);
        Assert.Empty(errors);
        for (int n = 0; n < written; n++)
        {
            Assert.Equal(Value("w", n), S(h.Engine.Get(B($"w{n:D6}"))));
        }
        for (int i = 0; i < Keys; i++)
        {
            Assert.Equal(Value("v1", i), S(h.Engine.Get(B(Key(i)))));
        }
        h.Engine.VerifyChecksums();
        Assert.Equal(5000, written);
        StorageStatistics stats = h.Engine.GetStatistics();
        Assert.Equal(rounds, stats.TablesRepaired);
        Assert.True(stats.Flushes >= 16, $"{stats.Flushes} flushes");
        h.Reopen();
        Assert.Equal(Value("v1", 5), S(h.Engine.Get(B(Key(5)))));
        Assert.Equal(Value("w", 0), S(h.Engine.Get(B("w000000"))));
    }

    [Fact]
    public void A_level_0_order_number_round_trips_through_a_version_edit()
    {
        byte[] a = InternalKey.Make(B("a"), 5, EntryType.Value);
        byte[] z = InternalKey.Make(B("z"), 9, EntryType.Value);
        var edit = new VersionEdit();
        edit.NewFiles.Add((0, new FileMetadata(20, 100, a, z, orderNumber: 7)));
        edit.NewFiles.Add((0, new FileMetadata(21, 100, a, z)));
        VersionEdit? decoded = VersionEdit.TryDecode(edit.Encode(), out string error);
        Assert.NotNull(decoded);
        Assert.Equal("", error);
        Assert.Equal(7, decoded!.NewFiles[0].File.OrderNumber);
        Assert.Equal(21, decoded.NewFiles[1].File.OrderNumber);
    }
}
