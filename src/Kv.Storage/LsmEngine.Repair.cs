using Kv.Storage.Table;
using Kv.Storage.Versions;

namespace Kv.Storage;

/// <summary>
/// Table repair: a table with corrupt blocks is rewritten from the entries it can still read, in
/// the same level, and the user-key ranges of what it could not read are reported, for the caller
/// to refill from elsewhere (other replicas). Reads never return data from a bad block (they throw
/// <see cref="StorageCorruptionException"/>); after a repair they no longer fail there.
/// </summary>
public sealed partial class LsmEngine
{
    private int _repairsRunning; // under _mutex; Dispose waits for it to reach 0
    private long _tablesRepaired;
    private long _corruptBlocksFound;

    /// <summary>
    /// Rewrites the live table <paramref name="fileName"/> (its bare name as
    /// <see cref="StorageCorruptionException.FileName"/> gives it, e.g. "000012.sst"; a path is
    /// accepted too) from its readable data blocks: every entry of every block that passes its
    /// checks is copied unchanged (same internal key: sequence and type, so versions and tombstones
    /// keep their order) to a new table, which replaces the old one in the same level in one
    /// MANIFEST edit. If nothing is readable (footer or index damaged), the table is only removed.
    /// The old file is deleted once no reader uses it. Waits for a running compaction to finish;
    /// safe against concurrent reads, writes and flushes. A name that is not a live table (e.g.
    /// compacted away meanwhile, or repaired by an earlier call) is reported as skipped, changing
    /// nothing. An intact table is rewritten all the same (nothing lost).
    /// </summary>
    /// <exception cref="IOException">Writing the new table or the MANIFEST failed (nothing changed).</exception>
    public TableRepairReport RepairTable(string fileName)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ThrowIfDisposed();
        string name = Path.GetFileName(fileName);
        if (FileNames.Parse(name, out long number) != FileNames.Kind.Table)
        {
            return SkippedRepair(name, "not the name of a table file");
        }
        lock (_mutex)
        {
            if (_shuttingDown)
            {
                return SkippedRepair(name, "the engine is closing");
            }
            _repairsRunning++;
        }
        try
        {
            // While this holds the compaction lock no compaction runs (background, CompactRange or
            // trivial move: they all hold it), so the table can neither be compacted away nor moved
            // to another level while it is rewritten; one that is running is waited for. Flushes
            // go on: they only add level-0 files, and the edit below is applied to whatever version
            // is current when it is logged.
            lock (_compactionLock)
            {
                return RepairLocked(name, number);
            }
        }
        finally
        {
            lock (_mutex)
            {
                _repairsRunning--;
                Monitor.PulseAll(_mutex);
            }
            // A background compaction that found the lock taken gave up without rescheduling.
            MaybeScheduleCompaction();
        }
    }

    /// <summary>
    /// Scrub: reads every block of every live table (like <see cref="VerifyChecksums"/>, without
    /// stopping at the first bad one) and repairs each damaged table with <see cref="RepairTable"/>.
    /// Returns one report per damaged table found (some may say skipped); empty if all are intact.
    /// </summary>
    public IReadOnlyList<TableRepairReport> RepairDamagedTables()
    {
        ThrowIfDisposed();
        var damaged = new List<string>();
        Version v;
        lock (_mutex)
        {
            v = _versions.Current;
            v.Ref();
        }
        try
        {
            foreach (List<FileMetadata> level in v.Files)
            {
                foreach (FileMetadata f in level)
                {
                    if (_shuttingDown)
                    {
                        return [];
                    }
                    if (IsDamaged(f))
                    {
                        damaged.Add(Path.GetFileName(FileNames.Table(Directory, f.Number)));
                    }
                }
            }
        }
        finally
        {
            v.Unref();
        }
        var reports = new List<TableRepairReport>(damaged.Count);
        foreach (string name in damaged)
        {
            reports.Add(RepairTable(name));
        }
        return reports;
    }

    private bool IsDamaged(FileMetadata f)
    {
        try
        {
            // Opening checks footer, index, filter and properties; Verify every data block.
            return _tables.Get(f).Verify().Any();
        }
        catch (Exception e) when (e is StorageCorruptionException or FileNotFoundException)
        {
            return true;
        }
    }

    private TableRepairReport RepairLocked(string name, long number)
    {
        if (_shuttingDown)
        {
            return SkippedRepair(name, "the engine is closing");
        }
        if (_backgroundError is Exception bg)
        {
            // Flushes and compactions have stopped too; the MANIFEST may end in a failed write.
            return SkippedRepair(name, $"the engine stopped after a background error: {bg.Message}");
        }
        FileMetadata? file = null;
        int level = -1;
        lock (_mutex)
        {
            Version current = _versions.Current;
            for (int l = 0; l < Version.NumLevels && file is null; l++)
            {
                file = current.Files[l].Find(f => f.Number == number);
                level = l;
            }
        }
        if (file is null)
        {
            return SkippedRepair(name, "not a live table (compacted away, already repaired, or never one)");
        }
        Salvaged s;
        try
        {
            s = Salvage(file, level);
        }
        catch (OperationCanceledException)
        {
            return SkippedRepair(name, "the engine is closing");
        }
        // One edit swaps the tables, so readers see the old table or the new one, never neither.
        // Level >= 1 stays free of overlaps: the new table's keys are a subset of the old one's
        // (Salvage refuses entries outside its range). Level 0 keeps its order: Get reads level 0
        // by order number, newest first, and the new table inherits the old one's (see Salvage),
        // so its higher file number does not put its older data ahead of newer level-0 tables.
        var edit = new VersionEdit();
        edit.DeletedFiles.Add((level, file.Number));
        if (s.Output is not null)
        {
            _fs.SyncDirectory(Directory);
            edit.NewFiles.Add((level, s.Output));
        }
        try
        {
            lock (_manifestLock)
            {
                _versions.LogAndApply(edit, _mutex);
            }
        }
        finally
        {
            if (s.Output is not null)
            {
                lock (_mutex)
                {
                    _pendingOutputs.Remove(s.Output.Number);
                }
            }
        }
        // The old table's reader (and its cached blocks) goes when no version holds it any more.
        DeleteObsoleteFiles(atOpen: false);
        Interlocked.Increment(ref _tablesRepaired);
        Interlocked.Add(ref _corruptBlocksFound, s.BadBlocks);
        string? newFile = s.Output is null ? null : Path.GetFileName(FileNames.Table(Directory, s.Output.Number));
        LogEvent($"repaired table {name} in level {level}: {s.BadBlocks} bad block(s){(s.Reason is null ? "" : $" ({s.Reason})")}, "
            + $"{s.EntriesKept} entries kept in {newFile ?? "no table (removed)"}, {s.Lost.Count} user-key range(s) to refill");
        return new TableRepairReport(name, newFile, level, s.EntriesKept, s.BadBlocks, s.Lost, null);
    }

    private sealed record Salvaged(FileMetadata? Output, long EntriesKept, int BadBlocks, List<KeyRange> Lost, string? Reason);

    /// <summary>
    /// Copies every readable entry of <paramref name="file"/> to a new synced table (registered as a
    /// pending output; null if nothing was readable) and works out the lost user-key ranges: for a
    /// bad data block, from the previous block's index key (its last key; the file's smallest key
    /// for the first block) to the block's own index key, both inclusive, since versions of one user
    /// key may straddle a block boundary.
    /// </summary>
    private Salvaged Salvage(FileMetadata file, int level)
    {
        string path = FileNames.Table(Directory, file.Number);
        byte[] smallest = file.SmallestUserKey.ToArray();
        byte[] largest = file.LargestUserKey.ToArray();
        TableReader reader;
        try
        {
            // A private reader (not the table cache's) that reads every block from the file.
            reader = TableReader.OpenForSalvage(_fs, path, new BlockCache(0));
        }
        catch (Exception e) when (e is StorageCorruptionException or FileNotFoundException)
        {
            // Without footer and index no data block can be found: the whole table is lost.
            return new Salvaged(null, 0, 1, [new KeyRange(smallest, largest)], e.Message);
        }
        var lost = new List<KeyRange>();
        int bad = 0;
        long kept = 0;
        long outputNumber = 0;
        TableBuilder? builder = null;
        string? reason = null;
        try
        {
            using (reader)
            {
                if (reader.MetaError is not null)
                {
                    bad++;
                    reason = reader.MetaError.Detail;
                }
                byte[] low = smallest; // where a lost range starts: the previous block's last user key
                foreach (TableReader.DataBlock b in reader.DataBlocks(file.Smallest, file.Largest))
                {
                    if (_shuttingDown)
                    {
                        throw new OperationCanceledException("engine is closing");
                    }
                    bool indexKeyValid = b.IndexKey.Length >= InternalKey.TagSize;
                    if (b.Block is Block block)
                    {
                        BlockIterator it = block.NewIterator();
                        for (it.SeekToFirst(); it.Valid; it.Next())
                        {
                            if (builder is null)
                            {
                                outputNumber = NewOutputNumber();
                                builder = CreateTableBuilder(outputNumber);
                            }
                            builder.Add(it.Key, it.Value);
                            kept++;
                        }
                    }
                    else
                    {
                        bad++;
                        reason ??= b.Error?.Detail;
                        byte[] high = indexKeyValid ? Clamp(InternalKey.UserKey(b.IndexKey), smallest, largest) : largest;
                        if (high.AsSpan().SequenceCompareTo(low) < 0)
                        {
                            high = largest; // an index key out of place: assume the worst
                        }
                        AddLostRange(lost, low, high);
                    }
                    if (indexKeyValid)
                    {
                        byte[] next = Clamp(InternalKey.UserKey(b.IndexKey), smallest, largest);
                        if (next.AsSpan().SequenceCompareTo(low) > 0)
                        {
                            low = next;
                        }
                    }
                }
            }
            FileMetadata? output = null;
            if (builder is not null)
            {
                TableBuilder done = builder;
                builder = null;
                done.Finish();
                done.Sync();
                done.Dispose();
                // A level-0 table keeps the order number of the one it replaces (see FileMetadata.OrderNumber).
                output = new FileMetadata(outputNumber, done.FileSize, done.Smallest!, done.Largest!, level == 0 ? file.OrderNumber : null);
            }
            return new Salvaged(output, kept, bad, lost, reason);
        }
        catch
        {
            builder?.Dispose();
            if (outputNumber != 0)
            {
                DeleteTable(outputNumber);
                lock (_mutex)
                {
                    _pendingOutputs.Remove(outputNumber);
                }
            }
            throw;
        }
    }

    /// <summary>Appends [low, high], merged into the last range if they overlap or touch (blocks come in key order).</summary>
    private static void AddLostRange(List<KeyRange> ranges, byte[] low, byte[] high)
    {
        if (ranges.Count > 0 && low.AsSpan().SequenceCompareTo(ranges[^1].High) <= 0)
        {
            KeyRange last = ranges[^1];
            ranges[^1] = new KeyRange(last.Low, high.AsSpan().SequenceCompareTo(last.High) > 0 ? high : last.High);
            return;
        }
        ranges.Add(new KeyRange(low, high));
    }

    private static byte[] Clamp(ReadOnlySpan<byte> key, byte[] smallest, byte[] largest) =>
        key.SequenceCompareTo(smallest) < 0 ? smallest
        : key.SequenceCompareTo(largest) > 0 ? largest
        : key.ToArray();

    private TableRepairReport SkippedRepair(string name, string reason)
    {
        LogEvent($"did not repair table {name}: {reason}");
        return new TableRepairReport(name, null, -1, 0, 0, [], reason);
    }
}
