using System.Diagnostics;
using System.Text;
using Kv.Storage;

namespace Kv.Cli;

/// <summary>`kv storage ...`: operator tools over one engine directory.</summary>
public static class StorageCommands
{
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0)
        {
            throw new CliException("missing storage command (put, get, del, scan, flush, compact, verify, stats)");
        }
        CliArgs a = CliArgs.Parse(args[1..], "sync");
        string dir = a.Required("dir");
        string? unflushed = SharedLogWithWrites(dir, a.Option("commit-log"));
        if (unflushed is not null && args[0] != "verify")
        {
            throw new IOException($"{dir} is a vnode whose recent writes are in the shared commit log {unflushed}, which still holds " +
                "writes no flush has put in its tables: this tool reads the tables alone and would not see them. Start the node " +
                "and stop it cleanly (every vnode flushes and the log empties), then run this again");
        }
        switch (args[0])
        {
            case "put":
                return Put(a, dir, stdin, stdout);
            case "get":
                return Get(a, dir, stdout);
            case "del":
                return Del(a, dir);
            case "scan":
                return Scan(a, dir, stdout);
            case "flush":
                a.Done(0);
                using (LsmEngine e = OpenExisting(dir))
                {
                    e.Flush();
                }
                stdout.WriteLine("flushed");
                return ExitCodes.Ok;
            case "compact":
                return Compact(a, dir, stdout);
            case "verify":
                return Verify(a, dir, stdout, stderr);
            case "stats":
                return Stats(a, dir, stdout);
            default:
                throw new CliException($"unknown storage command '{args[0]}' (put, get, del, scan, flush, compact, verify, stats)");
        }
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

    private static int Put(CliArgs a, string dir, TextReader stdin, TextWriter stdout)
    {
        bool sync = a.Flag("sync");
        a.Done(2);
        using LsmEngine engine = OpenExisting(dir, create: true);
        if (a.Positional.Count == 2)
        {
            engine.Put(Utf8(a.Positional[0]), Utf8(a.Positional[1]), sync);
            return ExitCodes.Ok;
        }
        if (a.Positional.Count == 1)
        {
            throw new CliException("put needs KEY and VALUE (or neither, to read KEY<TAB>VALUE lines from stdin)");
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

    private static int Get(CliArgs a, string dir, TextWriter stdout)
    {
        a.Done(1);
        string key = a.Positional.Count == 1 ? a.Positional[0] : throw new CliException("get needs KEY");
        using LsmEngine engine = OpenExisting(dir);
        byte[]? value = engine.Get(Utf8(key));
        if (value is null)
        {
            return ExitCodes.NotFound;
        }
        stdout.WriteLine(Encoding.UTF8.GetString(value));
        return ExitCodes.Ok;
    }

    private static int Del(CliArgs a, string dir)
    {
        bool sync = a.Flag("sync");
        a.Done(1);
        string key = a.Positional.Count == 1 ? a.Positional[0] : throw new CliException("del needs KEY");
        using LsmEngine engine = OpenExisting(dir);
        engine.Delete(Utf8(key), sync);
        return ExitCodes.Ok;
    }

    private static int Scan(CliArgs a, string dir, TextWriter stdout)
    {
        string? prefix = a.Option("prefix");
        string? from = a.Option("from");
        string? to = a.Option("to");
        long limit = a.Long("limit") ?? long.MaxValue;
        a.Done(0);
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

    private static int Compact(CliArgs a, string dir, TextWriter stdout)
    {
        string? from = a.Option("from");
        string? to = a.Option("to");
        a.Done(0);
        using LsmEngine engine = OpenExisting(dir);
        var timer = Stopwatch.StartNew();
        engine.CompactRange(from is null ? null : Utf8(from), to is null ? null : Utf8(to));
        StorageStatistics s = engine.GetStatistics();
        stdout.WriteLine($"compacted in {timer.Elapsed.TotalSeconds:F1} s; files per level: {string.Join(' ', s.LevelFiles)}");
        return ExitCodes.Ok;
    }

    private static int Verify(CliArgs a, string dir, TextWriter stdout, TextWriter stderr)
    {
        a.Done(0);
        if (SharedLogWithWrites(dir, a.Option("commit-log")) is string log)
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

    private static int Stats(CliArgs a, string dir, TextWriter stdout)
    {
        a.Done(0);
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
