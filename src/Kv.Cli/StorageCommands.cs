using System.Diagnostics;
using System.Text;
using Kv.Storage;

namespace Kv.Cli;

/// <summary>`kv storage ...`: operator tools over one engine directory.</summary>
public static class StorageCommands
{
    /// <summary>The storage commands (each takes --dir; all but verify refuse a vnode whose shared commit log still holds writes).</summary>
    public static readonly IReadOnlyList<string> Commands = ["put", "get", "del", "scan", "flush", "compact", "verify", "stats"];

    /// <summary>
    /// Refuses to run <paramref name="command"/> on a vnode directory whose writes are partly in the
    /// node's shared commit log (the tool reads the tables alone); verify runs anyway and says so.
    /// </summary>
    public static void CheckNotInSharedLog(string command, string dir, string? commitLog)
    {
        string? unflushed = SharedLogWithWrites(dir, commitLog);
        if (unflushed is not null && command != "verify")
        {
            throw new IOException($"{dir} is a vnode whose recent writes are in the shared commit log {unflushed}, which still holds " +
                "writes no flush has put in its tables: this tool reads the tables alone and would not see them. Start the node " +
                "and stop it cleanly (every vnode flushes and the log empties), then run this again");
        }
    }

    /// <summary>`kv storage flush --dir DIR`.</summary>
    public static int Flush(string dir, TextWriter stdout)
    {
        using (LsmEngine e = OpenExisting(dir))
        {
            e.Flush();
        }
        stdout.WriteLine("flushed");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// For an engine directory of a node's vnode (it has a LOGID: its log is the node's shared
    /// commit log, by default two levels up in commitlog/): that log's directory if it still holds
    /// segments (the node did not stop cleanly), else null.
    /// </summary>
    private static string? SharedLogWithWrites(string dir, string? commitLog)
    {
        if (!File.Exists(Path.Combine(dir, "LOGID")))
        {
            return null;
        }
        string log = Path.GetFullPath(commitLog ?? Path.Combine(dir, "..", "..", "commitlog"));
        return Directory.Exists(log) && Directory.EnumerateFiles(log, "*.clog").Any() ? log : null;
    }

    private static LsmEngine OpenExisting(string dir, bool create = false) =>
        LsmEngine.Open(dir, new StorageOptions { CreateIfMissing = create });

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>`kv storage put [KEY VALUE] --dir DIR [--sync]`: one value, or (neither) KEY&lt;TAB&gt;VALUE lines from stdin.</summary>
    public static int Put(string dir, string? key, string? value, bool sync, TextReader stdin, TextWriter stdout)
    {
        if ((key is null) != (value is null))
        {
            throw new CliException("put needs KEY and VALUE (or neither, to read KEY<TAB>VALUE lines from stdin)");
        }
        using LsmEngine engine = OpenExisting(dir, create: true);
        if (key is not null)
        {
            engine.Put(Utf8(key), Utf8(value!), sync);
            return ExitCodes.Ok;
        }
        // Bulk load: validate every line before anything is written, so a bad line loses nothing.
        var batch = new WriteBatch();
        long lines = 0;
        long loaded = 0;
        var timer = Stopwatch.StartNew();
        string? line;
        while ((line = stdin.ReadLine()) is not null)
        {
            lines++;
            int tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab <= 0)
            {
                throw new CliException($"stdin line {lines}: expected KEY<TAB>VALUE with a non-empty key");
            }
            batch.Put(Utf8(line[..tab]), Utf8(line[(tab + 1)..]));
            if (batch.ApproximateSize >= 1 << 20)
            {
                engine.Write(batch, sync);
                loaded += batch.Count;
                batch = new WriteBatch();
                if (timer.ElapsedMilliseconds > 1000)
                {
                    Console.Error.Write($"\rloaded {loaded} keys");
                    timer.Restart();
                }
            }
        }
        engine.Write(batch, sync);
        loaded += batch.Count;
        stdout.WriteLine($"loaded {loaded} keys");
        return ExitCodes.Ok;
    }

    /// <summary>`kv storage get KEY --dir DIR`: the value (exit 1 if absent).</summary>
    public static int Get(string dir, string key, TextWriter stdout)
    {
        using LsmEngine engine = OpenExisting(dir);
        byte[]? value = engine.Get(Utf8(key));
        if (value is null)
        {
            return ExitCodes.NotFound;
        }
        stdout.WriteLine(Encoding.UTF8.GetString(value));
        return ExitCodes.Ok;
    }

    /// <summary>`kv storage del KEY --dir DIR [--sync]`.</summary>
    public static int Del(string dir, string key, bool sync)
    {
        using LsmEngine engine = OpenExisting(dir);
        engine.Delete(Utf8(key), sync);
        return ExitCodes.Ok;
    }

    /// <summary>`kv storage scan --dir DIR [--prefix P] [--from K] [--to K] [--limit N]`: KEY&lt;TAB&gt;VALUE lines in key order.</summary>
    public static int Scan(string dir, string? prefix, string? from, string? to, long? limitOption, TextWriter stdout)
    {
        long limit = limitOption ?? long.MaxValue;
        if (prefix is not null && (from is not null || to is not null))
        {
            throw new CliException("use --prefix or --from/--to, not both");
        }
        ReadOptions options = prefix is not null
            ? ReadOptions.ForPrefix(Utf8(prefix)) with { FillCache = false }
            : new ReadOptions { LowerBound = from is null ? null : Utf8(from), UpperBound = to is null ? null : Utf8(to), FillCache = false };
        using LsmEngine engine = OpenExisting(dir);
        using StorageIterator it = engine.NewIterator(options);
        long n = 0;
        for (it.SeekToFirst(); it.Valid && n < limit; it.Next(), n++)
        {
            stdout.Write(Escaping.Escape(it.Key));
            stdout.Write('\t');
            stdout.WriteLine(Escaping.Escape(it.Value));
        }
        return ExitCodes.Ok;
    }

    /// <summary>`kv storage compact --dir DIR [--from K] [--to K]`.</summary>
    public static int Compact(string dir, string? from, string? to, TextWriter stdout)
    {
        using LsmEngine engine = OpenExisting(dir);
        var timer = Stopwatch.StartNew();
        engine.CompactRange(from is null ? null : Utf8(from), to is null ? null : Utf8(to));
        StorageStatistics s = engine.GetStatistics();
        stdout.WriteLine($"compacted in {timer.Elapsed.TotalSeconds:F1} s; files per level: {string.Join(' ', s.LevelFiles)}");
        return ExitCodes.Ok;
    }

    /// <summary>`kv storage verify --dir DIR`: every block of every file (exit 3 on corruption).</summary>
    public static int Verify(string dir, string? commitLog, TextWriter stdout, TextWriter stderr)
    {
        if (SharedLogWithWrites(dir, commitLog) is string log)
        {
            stdout.WriteLine($"note: writes since the last flush are in the shared commit log {log}; only this directory's files are verified");
        }
        StorageVerifier.Report report = StorageVerifier.Verify(dir);
        foreach (StorageVerifier.Finding f in report.Findings)
        {
            (f.IsCorruption ? stderr : stdout).WriteLine($"{(f.IsCorruption ? "CORRUPT" : "note")}: {f.File} offset {f.Offset}: {f.Detail}");
        }
        int bad = report.Findings.Count(f => f.IsCorruption);
        stdout.WriteLine($"verified {report.Tables} tables ({report.DataBlocks} good data blocks) and {report.Logs} logs: {(bad == 0 ? "all checksums hold" : $"{bad} corruption(s)")}");
        return bad == 0 ? ExitCodes.Ok : ExitCodes.Corruption;
    }

    /// <summary>`kv storage stats --dir DIR`: levels, files, counters.</summary>
    public static int Stats(string dir, TextWriter stdout)
    {
        using LsmEngine engine = OpenExisting(dir);
        StorageStatistics s = engine.GetStatistics();
        stdout.WriteLine($"directory        {engine.Directory}");
        stdout.WriteLine($"last sequence    {s.LastSequence}");
        stdout.WriteLine($"memtable bytes   {s.MemtableBytes}");
        for (int level = 0; level < s.LevelFiles.Length; level++)
        {
            if (s.LevelFiles[level] > 0)
            {
                stdout.WriteLine($"level {level}          {s.LevelFiles[level]} files, {s.LevelBytes[level]} bytes");
            }
        }
        RecoveryReport r = engine.Recovery;
        stdout.WriteLine($"recovery         {r.BatchesReplayed} batches replayed{(r.TornTailTruncated ? ", torn tail truncated" : "")}{(r.Corruption is null ? "" : $", stopped at corruption: {r.Corruption.Message}")}");
        return ExitCodes.Ok;
    }
}
