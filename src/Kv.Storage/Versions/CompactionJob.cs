using System.Buffers.Binary;
using Kv.Storage.Iterators;
using Kv.Storage.Table;

namespace Kv.Storage.Versions;

/// <summary>
/// Merges a plan's inputs into new files of the output level. Keeps, for every user key, the newest
/// version plus the newest version visible to each live snapshot; drops a tombstone only when no
/// snapshot needs it, no deeper level may hold the key, and its grace period has passed. Output files
/// are cut only between user keys, so one user key never spans two files of a level.
/// </summary>
internal sealed class CompactionJob(LsmEngine engine, CompactionPlan plan, ulong smallestSnapshot)
{
    private readonly List<FileMetadata> _outputs = [];
    private TableBuilder? _builder;
    private long _builderNumber;

    public List<long> OutputNumbers { get; } = [];

    public long BytesWritten { get; private set; }

    public VersionEdit Run()
    {
        StorageOptions o = engine.Options;
        ICompactionFilter? filter = o.CompactionFilter;
        long now = o.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        long graceMs = (long)o.TombstoneGracePeriod.TotalMilliseconds;
        var children = new List<IInternalIterator>();
        foreach (FileMetadata f in plan.Inputs[0])
        {
            children.Add(engine.Tables.Get(f).NewIterator(fillCache: false));
        }
        if (plan.Inputs[1].Count > 0)
        {
            children.Add(new LevelIterator(plan.Inputs[1], engine.Tables, fillCache: false));
        }
        var current = new Util.CurrentUserKey();
        ulong lastSequenceForKey = InternalKey.MaxSequence;
        byte[] expiredTombstone = new byte[8];
        try
        {
            using var merged = new MergingIterator([.. children]);
            for (merged.SeekToFirst(); merged.Valid; merged.Next())
            {
                if (engine.ShuttingDown)
                {
                    throw new OperationCanceledException("engine is closing");
                }
                ReadOnlySpan<byte> key = merged.Key;
                ReadOnlySpan<byte> userKey = InternalKey.UserKey(key);
                ulong tag = InternalKey.TagOf(key);
                ulong sequence = tag >> 8;
                var type = (EntryType)(byte)tag;
                if (current.Advance(userKey))
                {
                    lastSequenceForKey = InternalKey.MaxSequence;
                    if (_builder is not null && _builder.FileSize >= o.TargetFileSize)
                    {
                        FinishOutput();
                    }
                }
                bool drop = false;
                bool asTombstone = false;
                if (lastSequenceForKey <= smallestSnapshot)
                {
                    drop = true; // a newer version of this key is visible to every snapshot
                }
                else if (type == EntryType.Deletion && sequence <= smallestSnapshot
                    && TombstoneExpired(merged.Value, now, graceMs)
                    && plan.Base.IsBaseLevelForKey(plan.OutputLevel, userKey))
                {
                    drop = true;
                }
                else if (type == EntryType.Value && filter is not null && sequence <= smallestSnapshot
                    && lastSequenceForKey == InternalKey.MaxSequence
                    && filter.Filter(plan.Level, userKey, merged.Value) == CompactionDecision.Remove)
                {
                    if (plan.Base.IsBaseLevelForKey(plan.OutputLevel, userKey))
                    {
                        drop = true;
                    }
                    else
                    {
                        asTombstone = true;
                    }
                }
                lastSequenceForKey = sequence;
                if (drop)
                {
                    continue;
                }
                _builder ??= NewOutput();
                if (asTombstone)
                {
                    byte[] tombstone = InternalKey.Make(userKey, sequence, EntryType.Deletion);
                    _builder.Add(tombstone, expiredTombstone);
                }
                else
                {
                    _builder.Add(key, merged.Value);
                }
            }
            FinishOutput();
        }
        catch
        {
            _builder?.Dispose();
            foreach (long n in OutputNumbers)
            {
                engine.DeleteTable(n);
            }
            throw;
        }
        var edit = new VersionEdit();
        foreach (FileMetadata f in plan.Inputs[0])
        {
            edit.DeletedFiles.Add((plan.Level, f.Number));
        }
        foreach (FileMetadata f in plan.Inputs[1])
        {
            edit.DeletedFiles.Add((plan.Level + 1, f.Number));
        }
        foreach (FileMetadata f in _outputs)
        {
            edit.NewFiles.Add((plan.OutputLevel, f));
        }
        byte[] largest = plan.Inputs[0][0].Largest;
        foreach (FileMetadata f in plan.Inputs[0])
        {
            if (InternalKey.Compare(f.Largest, largest) > 0)
            {
                largest = f.Largest;
            }
        }
        edit.CompactPointers.Add((plan.Level, largest));
        return edit;
    }

    private static bool TombstoneExpired(ReadOnlySpan<byte> value, long now, long graceMs) =>
        graceMs <= 0 || value.Length < 8 || now - BinaryPrimitives.ReadInt64LittleEndian(value) >= graceMs;

    private TableBuilder NewOutput()
    {
        _builderNumber = engine.NewOutputNumber();
        OutputNumbers.Add(_builderNumber);
        return engine.CreateTableBuilder(_builderNumber);
    }

    private void FinishOutput()
    {
        if (_builder is null)
        {
            return;
        }
        TableBuilder b = _builder;
        _builder = null;
        b.Finish();
        b.Sync();
        b.Dispose();
        _outputs.Add(new FileMetadata(_builderNumber, b.FileSize, b.Smallest!, b.Largest!));
        BytesWritten += b.FileSize;
    }
}
