using Kv.Storage.IO;
using Kv.Storage.Iterators;
using Kv.Storage.Memtable;
using Kv.Storage.Table;
using Kv.Storage.Versions;
using Kv.Storage.Wal;

namespace Kv.Storage;

/// <summary>
/// Opening: load the MANIFEST, replay the WALs it has not absorbed into level-0 tables, start a new
/// WAL and MANIFEST, and remove files nothing refers to. Recovery is point-in-time: it stops at the
/// first damaged record, so the state recovered is always a prefix of the writes made.
/// </summary>
public sealed partial class LsmEngine
{
    private (MemTable Mem, LogWriter? Wal) Recover()
    {
        if (!_fs.Exists(Path.Combine(Directory, FileNames.Current)))
        {
            if (!Options.CreateIfMissing)
            {
                throw new DirectoryNotFoundException($"no storage engine in {Directory} (CreateIfMissing is false)");
            }
        }
        else
        {
            if (Options.ErrorIfExists)
            {
                throw new IOException($"a storage engine already exists in {Directory} (ErrorIfExists is true)");
            }
            _versions.Recover();
        }
        var wals = new List<long>();
        foreach (string name in _fs.ListFiles(Directory))
        {
            FileNames.Kind kind = FileNames.Parse(name, out long number);
            if (kind is FileNames.Kind.Table or FileNames.Kind.Wal or FileNames.Kind.Manifest or FileNames.Kind.Temp)
            {
                _versions.MarkFileNumberUsed(number);
            }
            if (kind == FileNames.Kind.Wal && number >= _versions.LogNumber)
            {
                wals.Add(number);
            }
        }
        foreach (List<FileMetadata> level in _versions.Current.Files)
        {
            foreach (FileMetadata f in level)
            {
                if (!_fs.Exists(FileNames.Table(Directory, f.Number)))
                {
                    throw new StorageCorruptionException(Path.GetFileName(FileNames.Table(Directory, f.Number)), 0, "table named by the MANIFEST is missing");
                }
            }
        }
        wals.Sort();
        var edit = new VersionEdit();
        ulong maxSequence = _versions.LastSequence;
        long batches = 0;
        bool tornTail = false;
        StorageCorruptionException? corruption = null;
        var quarantined = new List<string>();
        MemTable? mem = null;
        var inserter = new MemInserter();
        for (int i = 0; i < wals.Count && corruption is null; i++)
        {
            string path = FileNames.Wal(Directory, wals[i]);
            string name = Path.GetFileName(path);
            using IRandomAccessFile file = _fs.OpenRead(path);
            var reader = new LogReader(file, name);
            ulong lastInLog = 0;
            while (reader.TryRead(out ReadOnlySpan<byte> record))
            {
                if (!WriteBatch.TryDecode(record, out ulong seq, out int count, out _, NullBatchHandler.Instance) || count == 0
                    || seq <= lastInLog || seq + (ulong)count - 1 > InternalKey.MaxSequence)
                {
                    corruption = new StorageCorruptionException(name, reader.GoodLength, "WAL record holds a malformed or out-of-order batch");
                    break;
                }
                mem ??= new MemTable(0, (uint)_random.Next());
                inserter.Mem = mem;
                WriteBatch.TryDecode(record, out _, out _, out _, inserter);
                lastInLog = seq + (ulong)count - 1;
                maxSequence = Math.Max(maxSequence, lastInLog);
                batches++;
                if (mem.ApproximateMemoryUsage >= Options.WriteBufferSize)
                {
                    WriteLevel0(mem, edit);
                    mem = null;
                }
            }
            if (corruption is null && reader.End != LogEnd.EndOfFile)
            {
                bool last = i == wals.Count - 1;
                if (reader.End == LogEnd.TornTail && last)
                {
                    tornTail = true;
                    LogEvent($"recovery: truncated a torn tail of {name} at offset {reader.ErrorOffset} ({reader.ErrorDetail})");
                }
                else
                {
                    corruption = new StorageCorruptionException(name, reader.ErrorOffset,
                        reader.End == LogEnd.TornTail ? $"older WAL ends early: {reader.ErrorDetail}" : reader.ErrorDetail);
                }
            }
            if (corruption is not null)
            {
                if (Options.RecoveryMode == WalRecoveryMode.AbsoluteConsistency)
                {
                    throw corruption;
                }
                LogEvent($"recovery: {corruption.Message}; recovered the state before it and set aside {name} and later logs");
                for (int j = i; j < wals.Count; j++)
                {
                    quarantined.Add(FileNames.Wal(Directory, wals[j]));
                }
            }
        }
        if (_log is not null)
        {
            _logId = ReadOrCreateLogId();
            if (corruption is null)
            {
                // This engine's records in the shared commit log that no flush has put in a table.
                ulong floor = _versions.CommitLogFloor;
                ulong previous = 0;
                foreach (byte[] record in _log.TakeRecovered(_logId))
                {
                    if (!WriteBatch.TryDecode(record, out ulong seq, out int count, out _, NullBatchHandler.Instance) || count == 0
                        || seq <= previous || seq + (ulong)count - 1 > InternalKey.MaxSequence)
                    {
                        corruption = new StorageCorruptionException(_log.Directory, 0, "commit-log record holds a malformed or out-of-order batch");
                        if (Options.RecoveryMode == WalRecoveryMode.AbsoluteConsistency)
                        {
                            throw corruption;
                        }
                        LogEvent($"recovery: {corruption.Message}; recovered the state before it");
                        break;
                    }
                    previous = seq + (ulong)count - 1;
                    if (previous <= floor)
                    {
                        continue; // flushed before the crash
                    }
                    mem ??= new MemTable(0, (uint)_random.Next());
                    inserter.Mem = mem;
                    WriteBatch.TryDecode(record, out _, out _, out _, inserter);
                    maxSequence = Math.Max(maxSequence, previous);
                    batches++;
                    if (mem.ApproximateMemoryUsage >= Options.WriteBufferSize)
                    {
                        WriteLevel0(mem, edit);
                        mem = null;
                    }
                }
            }
        }
        if (mem is not null && !mem.IsEmpty)
        {
            WriteLevel0(mem, edit);
        }
        long walNumber = _versions.NewFileNumber();
        IWritableFile? walFile = null;
        if (_log is null)
        {
            walFile = _fs.Create(FileNames.Wal(Directory, walNumber));
            _fs.SyncDirectory(Directory);
        }
        else
        {
            // Everything recovered is in level 0 now; a later open replays only what comes after.
            edit.CommitLogFloor = maxSequence;
        }
        edit.LogNumber = walNumber;
        edit.LastSequence = maxSequence;
        lock (_manifestLock)
        {
            _versions.LogAndApply(edit, _mutex);
        }
        foreach (string path in quarantined)
        {
            _fs.Rename(path, path + ".corrupt");
        }
        if (quarantined.Count > 0)
        {
            _fs.SyncDirectory(Directory);
        }
        lock (_mutex)
        {
            _pendingOutputs.Clear();
        }
        _log?.Flushed(_logId, _log.Position);
        _lastSequence = maxSequence;
        Recovery = new RecoveryReport
        {
            BatchesReplayed = batches,
            TornTailTruncated = tornTail,
            Corruption = corruption,
            QuarantinedLogs = quarantined.ConvertAll(Path.GetFileName)!,
        };
        DeleteObsoleteFiles(atOpen: true);
        return (new MemTable(walNumber, (uint)_random.Next()), walFile is null ? null : new LogWriter(walFile));
    }

    /// <summary>This engine's id in the shared commit log, made (random, durable) on first use.</summary>
    private ulong ReadOrCreateLogId()
    {
        string path = Path.Combine(Directory, FileNames.LogIdFile);
        if (_fs.Exists(path))
        {
            using IRandomAccessFile file = _fs.OpenRead(path);
            Span<byte> text = stackalloc byte[16];
            if (file.Length != 16 || file.Read(0, text) != 16
                || !ulong.TryParse(System.Text.Encoding.ASCII.GetString(text), System.Globalization.NumberStyles.AllowHexSpecifier, null, out ulong id) || id == 0)
            {
                throw new StorageCorruptionException(FileNames.LogIdFile, 0, "not a commit-log id (16 hex digits)");
            }
            return id;
        }
        ulong fresh;
        do
        {
            fresh = (ulong)Random.Shared.NextInt64() ^ ((ulong)Random.Shared.Next() << 63);
        }
        while (fresh == 0);
        string temp = path + ".dbtmp";
        using (IWritableFile file = _fs.Create(temp))
        {
            file.Append(System.Text.Encoding.ASCII.GetBytes(fresh.ToString("x16", System.Globalization.CultureInfo.InvariantCulture)));
            file.Sync();
        }
        _fs.Rename(temp, path);
        _fs.SyncDirectory(Directory);
        return fresh;
    }

    private void WriteLevel0(MemTable mem, VersionEdit edit)
    {
        long number = NewOutputNumber();
        using IInternalIterator it = mem.NewIterator();
        FileMetadata? meta = BuildTable(it, number, InternalKey.MaxSequence - 1); // no snapshot exists during recovery
        if (meta is not null)
        {
            edit.NewFiles.Add((0, meta));
        }
    }

    internal long NewOutputNumber()
    {
        long number = _versions.NewFileNumber();
        lock (_mutex)
        {
            _pendingOutputs.Add(number);
        }
        return number;
    }

    /// <summary>
    /// Writes a memtable's entries to a new synced level-0 table (null if none remain), leaving out
    /// each version that a newer version of the same key hides from every snapshot (as RocksDB's
    /// flush does; LevelDB leaves that to compaction). Under a skewed write load most of a memtable
    /// is such versions. The newest version of every key is kept, tombstones included: they must
    /// still hide older tables.
    /// </summary>
    private FileMetadata? BuildTable(IInternalIterator it, long number, ulong smallestSnapshot)
    {
        string path = FileNames.Table(Directory, number);
        var builder = new TableBuilder(_fs.Create(path), Options.BlockSize, Options.BloomBitsPerKey);
        try
        {
            var current = new Util.CurrentUserKey();
            ulong lastSequenceForKey = InternalKey.MaxSequence;
            long dropped = 0;
            for (it.SeekToFirst(); it.Valid; it.Next())
            {
                ReadOnlySpan<byte> key = it.Key;
                if (current.Advance(InternalKey.UserKey(key)))
                {
                    lastSequenceForKey = InternalKey.MaxSequence;
                }
                bool hidden = lastSequenceForKey <= smallestSnapshot;
                lastSequenceForKey = InternalKey.TagOf(key) >> 8;
                if (hidden)
                {
                    dropped++;
                    continue;
                }
                builder.Add(key, it.Value);
            }
            Interlocked.Add(ref _flushDroppedEntries, dropped);
            if (builder.Entries == 0)
            {
                builder.Dispose();
                _fs.Delete(path);
                return null;
            }
            builder.Finish();
            builder.Sync();
            long size = builder.FileSize;
            builder.Dispose();
            return new FileMetadata(number, size, builder.Smallest!, builder.Largest!);
        }
        catch
        {
            builder.Dispose();
            TryDelete(path);
            throw;
        }
    }

    private void TryDelete(string path)
    {
        try
        {
            _fs.Delete(path);
        }
        catch (IOException e)
        {
            LogEvent($"could not delete {Path.GetFileName(path)}: {e.Message}");
        }
    }

    private sealed class NullBatchHandler : IBatchHandler
    {
        public static readonly NullBatchHandler Instance = new();

        public void Put(ulong sequence, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
        }

        public void Delete(ulong sequence, ReadOnlySpan<byte> key, long unixMillis)
        {
        }
    }
}
