using Akka.Actor;
using Akka.Event;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// Damaged data: a read (or a tree build, or the periodic scrub) that hits a block whose checksum
/// fails gets an error, never data, and the damaged table is rewritten from its readable blocks
/// (<see cref="LsmEngine.RepairTable"/>, off the actor's thread). The key ranges of the blocks that
/// could not be read are refilled from the neighbours that share them (a fill limited to those
/// ranges); read repair and anti-entropy bring back the rest. The damaged tables are recorded in a
/// file first, so that a vnode that fails before the rewrite (its engine stops when a compaction
/// reads the damage) rewrites them when it starts again.
/// </summary>
public sealed partial class VnodeActor
{
    private const string DamagedFile = "VNODE_DAMAGED";
    private readonly HashSet<string> _repairing = new(StringComparer.Ordinal);
    private readonly List<KeyRange> _lostRanges = [];

    private sealed class Scrub
    {
        public static readonly Scrub Instance = new();
    }

    /// <summary>Table rewrites that ended (Error: the repair itself failed).</summary>
    private sealed record TablesRepaired(LsmEngine Engine, IReadOnlyList<string> Asked, IReadOnlyList<TableRepairReport> Reports, Exception? Error);

    /// <summary>Reads a key for a merge; a damaged block counts as "not here" (the merge from the other replicas is written over it) and starts the repair.</summary>
    private DvvSet<Sibling>? ReadOrRepair(byte[] key)
    {
        try
        {
            return Read(key);
        }
        catch (StorageCorruptionException e)
        {
            Log.Warning($"vnode {_partition}: the stored object of a key being repaired is unreadable ({e.Message}); writing the repair over it");
            OnCorruption(e);
            return null;
        }
    }

    private void OnCorruption(StorageCorruptionException corrupt)
    {
        Log.Error($"vnode {_partition}: damaged data in {corrupt.FileName} at offset {corrupt.Offset}: {corrupt.Detail}; the read got an error, and the table is rewritten from its readable blocks");
        Context.System.EventStream.Publish(new CorruptionFound(_partition, corrupt.FileName, corrupt.Detail));
        if (_engine is null || !_repairing.Add(corrupt.FileName))
            return;
        RecordDamaged();
        var (engine, name) = (_engine, corrupt.FileName);
        Task.Run(() => engine.RepairTable(name)).PipeTo(Self,
            success: r => new TablesRepaired(engine, [name], [r], null),
            failure: e => new TablesRepaired(engine, [name], [], e));
    }

    private void StartScrub()
    {
        if (_engine is null || _forwardTo is not null)
            return;
        var engine = _engine;
        Task.Run(engine.RepairDamagedTables).PipeTo(Self,
            success: reports => new TablesRepaired(engine, [], reports, null),
            failure: e => new TablesRepaired(engine, [], [], e));
    }

    /// <summary>The tables being rewritten, in a file: a vnode that fails before they are done rewrites them at its next start.</summary>
    private void RecordDamaged()
    {
        try
        {
            DurableFile.Replace(Path.Combine(_directory, DamagedFile), System.Text.Encoding.UTF8.GetBytes(string.Join('\n', _repairing)));
        }
        catch (IOException e)
        {
            Log.Warning($"vnode {_partition}: could not record the damaged tables ({e.Message})");
        }
    }

    /// <summary>At start: tables recorded as damaged by the last run are rewritten before anything else reads them.</summary>
    private void RepairRecordedDamage()
    {
        string path = Path.Combine(_directory, DamagedFile);
        if (!File.Exists(path))
            return;
        foreach (string name in File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var report = _engine!.RepairTable(name);
            Repaired(report);
        }
        File.Delete(path);
    }

    private void OnTablesRepaired(TablesRepaired done)
    {
        foreach (string name in done.Asked)
            _repairing.Remove(name);
        if (!ReferenceEquals(done.Engine, _engine))
            return; // the vnode handed its data off meanwhile
        if (done.Error is not null)
            Log.Error(done.Error, $"vnode {_partition}: rewriting damaged tables failed: {done.Error.Message}");
        foreach (var report in done.Reports)
        {
            if (report.Skipped is { } why && why.Contains("background error", StringComparison.Ordinal))
            {
                // The engine stopped (a compaction read the damage): the vnode starts again, and
                // rewrites the recorded tables before its engine compacts anything.
                throw new IOException($"vnode {_partition}: its storage stopped after a background error; starting again to rewrite {report.File}");
            }
            Repaired(report);
        }
        if (_repairing.Count == 0)
        {
            try
            {
                File.Delete(Path.Combine(_directory, DamagedFile));
            }
            catch (IOException e)
            {
                Log.Warning($"vnode {_partition}: could not remove {DamagedFile} ({e.Message})");
            }
        }
        if (_lostRanges.Count > 0 && _ring is not null)
            Refill();
    }

    private void Repaired(TableRepairReport report)
    {
        if (report.Skipped is not null)
        {
            Log.Info($"vnode {_partition}: {report.File} not rewritten: {report.Skipped}");
            return;
        }
        Log.Warning($"vnode {_partition}: rewrote damaged table {report.File} (level {report.Level}) as {report.NewFile ?? "nothing"}: {report.EntriesKept} entries kept, {report.BadBlocks} bad blocks, {report.LostRanges.Count} key ranges to refill from the other replicas");
        Context.System.EventStream.Publish(new TableRewritten(_partition, report.File, report.EntriesKept, report.BadBlocks, report.LostRanges.Count));
        _lostRanges.AddRange(report.LostRanges);
        if (report.LostRanges.Count > 0)
            _trees = null; // what the table held is no longer known: the trees are built again
    }

    /// <summary>Asks every neighbour that shares keys with this vnode for its keys in the lost ranges.</summary>
    private void Refill()
    {
        if (_ring is null || _engine is null)
            return;
        var ranges = _lostRanges.ToList();
        _lostRanges.Clear();
        foreach (int q in Neighbours(_ring))
            KvPaths.Vnode(Context.System, _ring.Owners[q], q).Tell(new FillRequest(q, _partition, _self) { Ranges = ranges }, Self);
        Log.Info($"vnode {_partition}: asked its neighbours for the keys of {ranges.Count} lost key ranges");
        if (_trees is null)
            AskToBuild(); // the trees go on without what the table lost; built again from the engine
    }
}
