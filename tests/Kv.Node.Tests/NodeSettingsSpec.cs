using Kv.Cluster.Cluster;
using Kv.Storage;

namespace Kv.Node.Tests;

/// <summary>Configuration: reference.conf's defaults, the hocon/ files, overrides, and errors that name the setting.</summary>
/// <remarks>In the processes collection: one test sets environment variables, which nodes started meanwhile would inherit.</remarks>
[Collection("processes")]
public sealed class NodeSettingsSpec
{
    private static readonly string Hocon = FindHocon();

    private static string FindHocon()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "hocon", "reference.conf")))
                return Path.Combine(d.FullName, "hocon");
        }
        throw new InvalidOperationException("hocon/ not found above the test directory");
    }

    private static NodeSettings Load(string[] args, Dictionary<string, string>? env = null) =>
        NodeSettings.Load(NodeArguments.Parse(args), name => env?.GetValueOrDefault(name));

    private static string Write(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"kv-node-{Guid.NewGuid():N}.conf");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void No_arguments_give_the_design_defaults()
    {
        var s = Load([]);
        Assert.Equal("kv", s.SystemName);
        Assert.Equal("data", s.Store.DataDirectory);
        Assert.Equal(64, s.Store.RingSize);
        Assert.Equal(4, s.Store.TargetNVal);
        var ns = s.Store.Namespaces["default"];
        Assert.Equal((3, 2, 2, 2, 0, 0), (ns.NVal, ns.R, ns.W, ns.DW, ns.PR, ns.PW));
        Assert.True(ns.NotFoundOk);
        Assert.False(ns.BasicQuorum);
        Assert.True(ns.AllowMult);
        Assert.Equal(TimeSpan.FromSeconds(5), ns.Timeout);
        Assert.Equal(64 * 1024, s.Store.MaxKeyBytes);
        Assert.Equal(1 << 20, s.Store.MaxObjectBytes);
        Assert.Equal(256L << 20, s.Store.BlockCacheBytes);
        Assert.Equal(512L << 20, s.Store.MemtableBudgetBytes);
        Assert.Equal(16L << 20, s.Store.Storage.WriteBufferSize);
        Assert.Equal((4, 12, 20), (s.Store.Storage.L0CompactionTrigger, s.Store.Storage.L0SlowdownTrigger, s.Store.Storage.L0StopTrigger));
        Assert.Equal(SyncMode.PerWrite, s.Store.Storage.SyncMode);
        Assert.Equal("127.0.0.1", s.System.Remote!.Hostname);
        Assert.Equal(2551, s.System.Remote.Port);
        var c = s.System.Cluster!;
        Assert.Empty(c.SeedNodes);
        Assert.Equal(8.0, c.FailureDetectorThreshold);
        Assert.Equal(TimeSpan.FromSeconds(3), c.AcceptableHeartbeatPause);
        Assert.Equal(TimeSpan.FromMilliseconds(100), c.MinStdDeviation);
        Assert.Equal(1000, c.MaxSampleSize);
        Assert.Equal(9, c.MonitoredByNrOfMembers);
        Assert.Equal(DowningStrategy.KeepMajority, c.Downing);
        Assert.Equal(TimeSpan.FromSeconds(20), c.StableAfter);
        Assert.True(s.LeaveOnShutdown);
        Assert.False(s.Store.ChaosEnabled);
    }

    [Fact]
    public void Fault_injection_is_switched_on_only_by_kv_chaos_enabled()
    {
        Assert.True(Load(["--kv.chaos.enabled", "on"]).Store.ChaosEnabled);
        Assert.False(Load(["--kv.chaos.enabled=off"]).Store.ChaosEnabled);
        var e = Assert.Throws<ConfigException>(() => Load(["--kv.chaos.enable", "on"]));
        Assert.Contains("did you mean 'kv.chaos.enabled'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_dev_cluster_files_load()
    {
        for (int i = 1; i <= 3; i++)
        {
            var s = Load(["--config", Path.Combine(Hocon, $"node{i}.conf")]);
            Assert.Equal(2550 + i, s.System.Remote!.Port);
            Assert.Equal($"dev/node{i}/data", s.Store.DataDirectory);
            Assert.Equal(3, s.System.Cluster!.SeedNodes.Count);
            Assert.Equal(TimeSpan.FromSeconds(2), s.System.Cluster.AcceptableHeartbeatPause);
        }
    }

    [Fact]
    public void Flags_beat_environment_variables_which_beat_the_file()
    {
        string file = Write("kv { remote.port = 3000, ring-size = 32, data-directory = from-file }");
        try
        {
            var s = NodeSettings.Load(NodeArguments.Parse(["--config", file, "--port", "3002"]), null);
            Assert.Equal(3002, s.System.Remote!.Port);
            Assert.Equal(32, s.Store.RingSize);
            Environment.SetEnvironmentVariable("KV__DATA_DIRECTORY", "from-env");
            Environment.SetEnvironmentVariable("KV__REMOTE__PORT", "3001");
            try
            {
                var fromEnv = NodeSettings.Load(NodeArguments.Parse(["--config", file]));
                Assert.Equal("from-env", fromEnv.Store.DataDirectory);
                Assert.Equal(3001, fromEnv.System.Remote!.Port);
                var flagged = NodeSettings.Load(NodeArguments.Parse(["--config", file, "--kv.remote.port=3002", "--data-dir", "from-flag"]));
                Assert.Equal(3002, flagged.System.Remote!.Port);
                Assert.Equal("from-flag", flagged.Store.DataDirectory);
            }
            finally
            {
                Environment.SetEnvironmentVariable("KV__DATA_DIRECTORY", null);
                Environment.SetEnvironmentVariable("KV__REMOTE__PORT", null);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Namespaces_take_unset_properties_from_default()
    {
        string file = Write("""
            kv.namespaces {
              default { r = 1 }
              Sessions_2 { n-val = 5, w = 3, last-write-wins = on, allow-mult = off, timeout = 2s }
            }
            """);
        try
        {
            var s = Load(["--config", file]);
            var sessions = s.Store.Namespaces["Sessions_2"];
            Assert.Equal((5, 1, 3), (sessions.NVal, sessions.R, sessions.W));
            Assert.True(sessions.LastWriteWins);
            Assert.Equal(TimeSpan.FromSeconds(2), sessions.Timeout);
            Assert.Equal(1, s.Store.Namespaces["default"].R);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("kv.remote.prot = 1", "unknown setting 'kv.remote.prot' (did you mean 'kv.remote.port'?)")]
    [InlineData("kv.remote.port = 70000", "kv.remote.port = '70000': must be 0..65535")]
    [InlineData("kv.remote.port = lots", "kv.remote.port = 'lots': expected a whole number")]
    [InlineData("kv.ring-size = 48", "kv.ring-size must be a power of two")]
    [InlineData("kv.ring-tick = soon", "kv.ring-tick = 'soon': expected a duration")]
    [InlineData("kv.max-object-size = 17MiB", "kv.max-object-size = '17MiB': must be 1..16777216 bytes")]
    [InlineData("kv.namespaces.users.colour = red", "unknown setting 'kv.namespaces.users.colour'")]
    [InlineData("kv.namespaces.users.r = 4", "kv.namespaces.users: namespace 'users': r = 4: must be 1..n_val")]
    [InlineData("kv.namespaces.default { allow-mult = on, last-write-wins = on }", "cannot be on together with allow_mult")]
    [InlineData("kv.cluster.split-brain-resolver.active-strategy = coin-toss", "expected one of: keep-majority")]
    [InlineData("kv.cluster.seed-nodes = [\"127.0.0.1:2551\"]", "kv.cluster.seed-nodes: '127.0.0.1:2551' is not an address")]
    [InlineData("kv.storage.sync-mode = sometimes", "kv.storage.sync-mode = 'sometimes'")]
    [InlineData("kv.leave-on-shutdown = maybe", "expected on/off")]
    [InlineData("kv.chaos.enabled = sometimes", "kv.chaos.enabled = 'sometimes': expected on/off")]
    [InlineData("colour = red\nkv.remote.port = ", "expected a value")]
    public void Bad_settings_stop_the_node_with_an_error_that_names_them(string conf, string message)
    {
        string file = Write(conf);
        try
        {
            var e = Assert.Throws<ConfigException>(() => Load(["--config", file]));
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_parse_error_names_file_line_and_column()
    {
        string file = Write("kv {\n  remote.port = 2551\n  cluster { seed-nodes = [ \"a\" \n}\n");
        try
        {
            var e = Assert.Throws<ConfigException>(() => Load(["--config", file]));
            Assert.StartsWith(file + ":", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(new[] { "--nonsense", "1" }, "unknown option --nonsense")]
    [InlineData(new[] { "--port" }, "--port needs a value")]
    [InlineData(new[] { "stray" }, "unexpected argument 'stray'")]
    [InlineData(new[] { "--config", "/no/such.conf" }, "configuration file not found")]
    [InlineData(new[] { "--kv.remote.hostnme", "x" }, "did you mean 'kv.remote.hostname'")]
    public void Bad_arguments_are_errors(string[] args, string message)
    {
        var e = Assert.Throws<ConfigException>(() => Load(args));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Seeds_on_the_command_line_replace_the_files()
    {
        var s = Load(["--config", Path.Combine(Hocon, "node2.conf"), "--seed", "kv://kv@10.0.0.1:2551"]);
        Assert.Equal(["kv://kv@10.0.0.1:2551"], s.System.Cluster!.SeedNodes);
    }
}
