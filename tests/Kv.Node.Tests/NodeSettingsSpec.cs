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
        Assert.Equal("127.0.0.1", s.Hostname);
        Assert.Equal(2551, s.Port);
        Assert.Empty(s.SeedNodes);
        // What Akka is given: remoting, the cluster with Akka's phi-accrual defaults and its split-brain resolver.
        var a = s.Akka;
        Assert.Equal("cluster", a.GetString("akka.actor.provider"));
        Assert.Equal("127.0.0.1", a.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal(2551, a.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Empty(a.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(8.0, a.GetDouble("akka.cluster.failure-detector.threshold"));
        Assert.Equal(TimeSpan.FromSeconds(3), a.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(TimeSpan.FromMilliseconds(100), a.GetTimeSpan("akka.cluster.failure-detector.min-std-deviation"));
        Assert.Equal(1000, a.GetInt("akka.cluster.failure-detector.max-sample-size"));
        Assert.Equal(9, a.GetInt("akka.cluster.failure-detector.monitored-by-nr-of-members"));
        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", a.GetString("akka.cluster.downing-provider-class"));
        Assert.Equal("keep-majority", a.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal(TimeSpan.FromSeconds(20), a.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.True(a.GetBoolean("akka.cluster.split-brain-resolver.down-all-when-unstable"));
        Assert.True(a.GetBoolean("akka.cluster.run-coordinated-shutdown-when-down"));
        Assert.Equal("kv", a.GetString("akka.actor.serialization-bindings.\"Kv.Actors.Vnode.VnodeGet, Kv.Actors\""));
        Assert.False(a.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.Empty(a.GetStringList("akka.remote.dot-netty.tcp.applied-adapters"));
        Assert.True(s.LeaveOnShutdown);
        Assert.False(s.Store.ChaosEnabled);
    }

    [Fact]
    public void Fault_injection_is_switched_on_only_by_kv_chaos_enabled()
    {
        var on = Load(["--kv.chaos.enabled", "on", "--seed", "akka.tcp://kv@127.0.0.1:2551"]);
        Assert.True(on.Store.ChaosEnabled);
        // Akka.Remote's throttler adapter, which names the transport akka.trttl.tcp (seeds follow).
        Assert.Equal(["trttl"], on.Akka.GetStringList("akka.remote.dot-netty.tcp.applied-adapters"));
        Assert.Equal(["akka.trttl.tcp://kv@127.0.0.1:2551"], on.SeedNodes);
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
            Assert.Equal(2550 + i, s.Port);
            Assert.Equal($"dev/node{i}/data", s.Store.DataDirectory);
            Assert.Equal(3, s.SeedNodes.Count);
            Assert.Equal(TimeSpan.FromSeconds(2), s.Akka.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        }
    }

    [Fact]
    public void Flags_beat_environment_variables_which_beat_the_file()
    {
        string file = Write("kv { remote.port = 3000, ring-size = 32, data-directory = from-file }");
        try
        {
            var s = NodeSettings.Load(NodeArguments.Parse(["--config", file, "--port", "3002"]), null);
            Assert.Equal(3002, s.Port);
            Assert.Equal(32, s.Store.RingSize);
            Environment.SetEnvironmentVariable("KV__DATA_DIRECTORY", "from-env");
            Environment.SetEnvironmentVariable("KV__REMOTE__PORT", "3001");
            try
            {
                var fromEnv = NodeSettings.Load(NodeArguments.Parse(["--config", file]));
                Assert.Equal("from-env", fromEnv.Store.DataDirectory);
                Assert.Equal(3001, fromEnv.Port);
                var flagged = NodeSettings.Load(NodeArguments.Parse(["--config", file, "--kv.remote.port=3002", "--data-dir", "from-flag"]));
                Assert.Equal(3002, flagged.Port);
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

    [Fact]
    public void A_namespace_declares_its_datatype_and_the_dev_cluster_has_one_of_each()
    {
        string file = Write("""
            kv.namespaces {
              tallies { datatype = counter }
              tags.datatype = set
              plain { r = 1 }
            }
            """);
        try
        {
            var s = Load(["--config", file]);
            Assert.Equal(Kv.Actors.Crdt.Datatype.Counter, s.Store.Namespaces["tallies"].Datatype);
            Assert.Equal(Kv.Actors.Crdt.Datatype.Set, s.Store.Namespaces["tags"].Datatype);
            Assert.Equal(Kv.Actors.Crdt.Datatype.None, s.Store.Namespaces["plain"].Datatype);
            Assert.Equal(Kv.Actors.Crdt.Datatype.None, s.Store.Namespaces["default"].Datatype);
        }
        finally
        {
            File.Delete(file);
        }
        var dev = Load(["--config", Path.Combine(Hocon, "dev-cluster.conf")]);
        Assert.Equal(Kv.Actors.Crdt.Datatype.Counter, dev.Store.Namespaces["counters"].Datatype);
        Assert.Equal(Kv.Actors.Crdt.Datatype.Set, dev.Store.Namespaces["sets"].Datatype);
        Assert.Equal(Kv.Actors.Crdt.Datatype.Register, dev.Store.Namespaces["registers"].Datatype);
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
    [InlineData("kv.namespaces.tallies.datatype = abacus", "kv.namespaces.tallies.datatype = abacus: unknown datatype 'abacus' (none, counter, set, register, hash, list)")]
    [InlineData("kv.namespaces.tallies { datatype = counter, allow-mult = off, last-write-wins = on }", "cannot be on in a namespace of datatype counter")]
    [InlineData("kv.namespaces.ledger { datatype = counter, consistent = on }", "consistent = True: cannot be on in a namespace of datatype counter (only with datatype none)")]
    [InlineData("kv.namespaces.ledger.consistent = maybe", "kv.namespaces.ledger.consistent")]
    [InlineData("kv.cluster.split-brain-resolver.active-strategy = coin-toss", "expected one of: keep-majority")]
    [InlineData("kv.cluster.seed-nodes = [\"127.0.0.1:2551\"]", "kv.cluster.seed-nodes: '127.0.0.1:2551' is not an address")]
    [InlineData("kv.cluster.seed-nodes = [\"akka.tcp://other@127.0.0.1:2551\"]", "names the system 'other'")]
    [InlineData("kv.remote.secret = x", "unknown setting 'kv.remote.secret'")]
    [InlineData("kv.remote.secure.enabled = on", "kv.remote.secure: certificate-path and ca-certificate-path are required")]
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
            Assert.Contains("line 4, column 1: '}' where the '[' opened at line 3, column 26 should be closed", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_first_seed_that_was_a_member_with_others_waits_longer_before_forming_a_cluster_alone()
    {
        string dir = Directory.CreateTempSubdirectory("kv-seed-").FullName;
        try
        {
            const string Self = "akka.tcp://kv@127.0.0.1:2551", Other = "akka.tcp://kv@127.0.0.1:2552";
            TimeSpan Timeout(params string[] seeds) =>
                Load(["--data-dir", dir, "--port", "2551", .. seeds.SelectMany(x => new[] { "--seed", x })]).Akka.GetTimeSpan("akka.cluster.seed-node-timeout");

            // A new node: Akka's rule, the first seed forms the cluster after seed-node-timeout.
            Assert.Equal(TimeSpan.FromSeconds(5), Timeout(Self, Other));
            // Its stored ring names another node: restarted, it waits first-seed-rejoin-timeout for the others.
            Kv.Actors.Ring.RingFile.Write(Path.Combine(dir, Kv.Actors.Ring.RingManager.FileName), Kv.Actors.Ring.Ring.Create([Self, Other], 16));
            Assert.Equal(TimeSpan.FromSeconds(30), Timeout(Self, Other));
            // Not the first seed (it never forms a cluster), or the only seed (nobody to wait for): unchanged.
            Assert.Equal(TimeSpan.FromSeconds(5), Timeout(Other, Self));
            Assert.Equal(TimeSpan.FromSeconds(5), Timeout(Self));
            // A ring of itself alone: nobody to wait for either.
            Kv.Actors.Ring.RingFile.Write(Path.Combine(dir, Kv.Actors.Ring.RingManager.FileName), Kv.Actors.Ring.Ring.Create([Self], 16));
            Assert.Equal(TimeSpan.FromSeconds(5), Timeout(Self, Other));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // Akka's parser loops without end (allocating until the process dies) on an array left open at
    // the end of a file; these must be errors naming the place, at once.
    [Theory]
    [InlineData("kv { cluster { seed-nodes = [ \"a\"\n", "line 1, column 29: '[' is never closed")]
    [InlineData("kv { remote.port = 2551\n", "line 1, column 4: '{' is never closed")]
    [InlineData("kv.remote.hostname = \"127.0.0.1\nkv.ring-size = 64\n", "line 1, column 22: a quoted string is not closed on its line")]
    [InlineData("kv.remote.hostname = \"\"\"127.0.0.1\n", "line 1, column 22: a \"\"\" string is never closed")]
    [InlineData("kv.remote.port = 2551\n}\n", "line 2, column 1: '}' closes nothing")]
    public async Task An_unclosed_bracket_brace_or_string_is_an_error_naming_the_place(string conf, string message)
    {
        string file = Write(conf);
        try
        {
            var load = Task.Run(() => Assert.Throws<ConfigException>(() => Load(["--config", file])));
            var e = await load.WaitAsync(TimeSpan.FromSeconds(10)); // throws TimeoutException if it hangs
            Assert.Equal($"{file}: {message}", e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_shape_check_passes_what_hocon_allows_and_every_shipped_file()
    {
        Assert.Null(HoconShape.Problem("""""
            # a comment with { and [
            // another ] }
            a = "a string with } and [ and \" and # and //"
            b = """triple { [ " "" quoted""""
            c = ${?HOME}
            d = [ { x = 1 }, [2, 3] ]
            e { f = "x" }
            """""));
        Assert.Null(HoconShape.Problem(NodeSettings.Reference));
        foreach (string f in Directory.GetFiles(Path.Combine(Processes.RepoRoot(), "hocon"), "*.conf"))
            Assert.True(HoconShape.Problem(File.ReadAllText(f)) is null, f);
    }

    [Theory]
    [InlineData(new[] { "--kv.remote.hostname=0.0.0.0" }, "kv.remote.hostname listens on '0.0.0.0', which is not loopback, but kv.security.authentication is off")]
    [InlineData(new[] { "--kv.http.port=8098", "--kv.http.hostname=10.1.2.3" }, "kv.http listens on '10.1.2.3'")]
    [InlineData(new[] { "--kv.security.authentication=maybe" }, "kv.security.authentication")]
    public void A_node_bound_beyond_loopback_without_authentication_refuses_to_start_saying_why(string[] args, string message)
    {
        var e = Assert.Throws<ConfigException>(() => Load(args));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        // With authentication on it starts (and the secure profile turns authentication on, anonymous off).
        var on = Load(["--kv.remote.hostname=0.0.0.0", "--kv.security.authentication=on"]);
        Assert.True(on.Store.Security.Authentication);
        Assert.False(on.Store.Security.RemoteIsLoopback);
        Assert.True(Load([]).Store.Security.RemoteIsLoopback);
        Assert.Equal(100_000, Load([]).Store.Security.HashIterations);
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
    public void An_akka_block_in_the_file_goes_to_akka_under_what_kv_derives()
    {
        string file = Write("""
            kv.remote.port = 2600
            akka.remote.dot-netty.tcp.port = 9999
            akka.actor.default-dispatcher.throughput = 7
            """);
        try
        {
            var s = Load(["--config", file]);
            Assert.Equal(2600, s.Akka.GetInt("akka.remote.dot-netty.tcp.port")); // kv.* decides what it names
            Assert.Equal(100, s.Akka.GetInt("akka.actor.default-dispatcher.throughput"));
            Assert.Equal(TimeSpan.FromSeconds(1), s.Akka.GetTimeSpan("akka.cluster.gossip-interval"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Seeds_on_the_command_line_replace_the_files()
    {
        var s = Load(["--config", Path.Combine(Hocon, "node2.conf"), "--seed", "akka.tcp://kv@10.0.0.1:2551"]);
        Assert.Equal(["akka.tcp://kv@10.0.0.1:2551"], s.SeedNodes);
        Assert.Equal(["akka.tcp://kv@10.0.0.1:2551"], s.Akka.GetStringList("akka.cluster.seed-nodes"));
    }
}
