namespace Kv.Storage.Tests;

/// <summary>The `kv storage` tools, run as the real command in a child process.</summary>
public class KvStorageCommandSpec
{
    [Fact]
    public void Put_get_del_scan_bulk_load_flush_compact_stats_and_verify()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            Assert.Equal(0, CliRunner.Run("storage", "put", "greeting", "hello world", "--dir", dir, "--sync").ExitCode);
            (int code, string stdout, _) = CliRunner.Run("storage", "get", "greeting", "--dir", dir);
            Assert.Equal((0, "hello world\n"), (code, stdout));
            (code, stdout, _) = CliRunner.RunWithInput("a/1\tone\na/2\ttwo\tand a tab\nb/1\tthree\n", "storage", "put", "--dir", dir);
            Assert.Equal((0, "loaded 3 keys\n"), (code, stdout));
            (code, stdout, _) = CliRunner.Run("storage", "scan", "--prefix", "a/", "--dir", dir);
            Assert.Equal((0, "a/1\tone\na/2\ttwo\\tand a tab\n"), (code, stdout));
            Assert.Equal(0, CliRunner.Run("storage", "del", "a/1", "--dir", dir).ExitCode);
            Assert.Equal(1, CliRunner.Run("storage", "get", "a/1", "--dir", dir).ExitCode);
            Assert.Equal(0, CliRunner.Run("storage", "flush", "--dir", dir).ExitCode);
            Assert.Equal(0, CliRunner.Run("storage", "compact", "--dir", dir).ExitCode);
            (code, stdout, _) = CliRunner.Run("storage", "stats", "--dir", dir);
            Assert.Equal(0, code);
            Assert.Contains("level ", stdout, StringComparison.Ordinal);
            (code, stdout, _) = CliRunner.Run("storage", "verify", "--dir", dir);
            Assert.Equal(0, code);
            Assert.Contains("all checksums hold", stdout, StringComparison.Ordinal);
            (code, stdout, _) = CliRunner.Run("storage", "scan", "--dir", dir, "--limit", "2");
            Assert.Equal((0, "a/2\ttwo\\tand a tab\nb/1\tthree\n"), (code, stdout));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Verify_and_get_report_a_corrupt_block_by_file_and_offset_and_print_no_value()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            using (var engine = LsmEngine.Open(dir))
            {
                for (int i = 0; i < 2000; i++)
                {
                    engine.Put(EngineHarness.B($"key{i:D5}"), EngineHarness.B($"value{i}"));
                }
                engine.Flush();
            }
            string table = Directory.GetFiles(dir, "*.sst").Single();
            using (var f = new FileStream(table, FileMode.Open, FileAccess.ReadWrite))
            {
                f.Position = 10; // first data block
                int b = f.ReadByte();
                f.Position = 10;
                f.WriteByte((byte)(b ^ 0x40));
            }
            (int code, string stdout, string stderr) = CliRunner.Run("storage", "verify", "--dir", dir);
            Assert.Equal(3, code);
            Assert.Contains($"CORRUPT: {Path.GetFileName(table)} offset 0: data block 0", stderr, StringComparison.Ordinal);
            Assert.Contains("1 corruption(s)", stdout, StringComparison.Ordinal);
            (code, stdout, stderr) = CliRunner.Run("storage", "get", "key00000", "--dir", dir);
            Assert.Equal(3, code);
            Assert.Equal(string.Empty, stdout);
            Assert.Contains(Path.GetFileName(table), stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(2, "missing required option --dir", "storage", "get", "k")]
    [InlineData(2, "unknown storage command", "storage", "frobnicate", "--dir", "/tmp/x")]
    [InlineData(2, "unknown option --bogus", "storage", "get", "k", "--dir", "/tmp/x", "--bogus", "1")]
    [InlineData(2, "get needs KEY", "storage", "get", "--dir", "/tmp/x")]
    [InlineData(2, "unknown command", "nonsense")]
    [InlineData(2, "usage: kv", new string[0])]
    public void Bad_command_lines_get_clear_errors_and_exit_code_2(int expected, string message, params string[] args)
    {
        (int code, string stdout, string stderr) = CliRunner.Run(args);
        Assert.Equal(expected, code);
        Assert.Contains(message, stderr + stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_bulk_load_line_loads_nothing_and_a_missing_database_is_not_created_by_get()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            (int code, _, string stderr) = CliRunner.RunWithInput("ok\t1\nno-tab-here\n", "storage", "put", "--dir", dir);
            Assert.Equal(2, code);
            Assert.Contains("stdin line 2", stderr, StringComparison.Ordinal);
            Assert.Equal(1, CliRunner.Run("storage", "get", "ok", "--dir", dir).ExitCode);
            string missing = Path.Combine(dir, "nothing-here");
            (code, _, stderr) = CliRunner.Run("storage", "get", "k", "--dir", missing);
            Assert.Equal(4, code);
            Assert.Contains("no storage engine", stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_vnode_directory_whose_shared_commit_log_still_holds_writes_is_refused_not_read_as_if_empty()
    {
        // A node's layout: data/vnodes/<partition>/ (one engine each), data/commitlog/ (their shared WAL).
        string data = TestPaths.NewTempDir();
        string vnode = Path.Combine(data, "vnodes", "5");
        string commitLog = Path.Combine(data, "commitlog");
        try
        {
            using (var env = new StorageEnvironment(commitLog: new CommitLog(commitLog, segmentBytes: 64L << 10)))
            using (var engine = LsmEngine.Open(vnode, new StorageOptions { Environment = env }))
            {
                engine.Put(EngineHarness.B("flushed"), EngineHarness.B("in a table"));
                engine.Flush();
            }
            Assert.Empty(Directory.GetFiles(commitLog, "*.clog")); // a clean stop: everything is in tables
            (int code, string stdout, string stderr) = CliRunner.Run("storage", "get", "flushed", "--dir", vnode);
            Assert.Equal((0, "in a table\n"), (code, stdout));

            // As after kill -9: the log holds a segment with writes no table has.
            File.WriteAllBytes(Path.Combine(commitLog, "000009.clog"), new byte[1024]);
            foreach (string command in new[] { "get", "scan", "stats" })
            {
                string[] args = command == "get" ? ["storage", "get", "flushed", "--dir", vnode] : ["storage", command, "--dir", vnode];
                (code, stdout, stderr) = CliRunner.Run(args);
                Assert.Equal(4, code);
                Assert.Equal("", stdout);
                Assert.Contains("shared commit log", stderr, StringComparison.Ordinal);
                Assert.Contains("stop it cleanly", stderr, StringComparison.Ordinal);
            }
            (code, stdout, _) = CliRunner.Run("storage", "verify", "--dir", vnode);
            Assert.Equal(0, code);
            Assert.Contains("only this directory's files are verified", stdout, StringComparison.Ordinal);
            // Another log directory can be named; an engine of its own (no LOGID) is never refused.
            Assert.Equal(0, CliRunner.Run("storage", "get", "flushed", "--dir", vnode, "--commit-log", Path.Combine(data, "elsewhere")).ExitCode);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
