using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kv.Client;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>Three node processes with their RESP ports on (the HTTP ports off), shared by the RESP specs.</summary>
public sealed class RespCluster : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("kv-resp-").FullName;

    public List<(Processes.Running Process, int Port, int RespPort)> Nodes { get; } = [];

    public ConnectionMultiplexer Redis { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => (Port: Processes.FreePort(), Resp: Processes.FreePort())).ToList();
        string seeds = string.Join(", ", ports.Select(p => $"\"akka.tcp://kv@127.0.0.1:{p.Port.ToString(CultureInfo.InvariantCulture)}\""));
        for (int i = 0; i < 3; i++)
        {
            string dir = Path.Combine(_root, "n" + i.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(dir);
            string config = Path.Combine(dir, "node.conf");
            File.WriteAllText(config, Processes.LoopbackNodeConfig(dir, ports[i].Port, seeds, "max-object-size = 256KiB"));
            Nodes.Add((new Processes.Running(Processes.Dll("Kv.Node.dll"), dir, "--config", config, "--kv.resp.port=" + ports[i].Resp.ToString(CultureInfo.InvariantCulture)), ports[i].Port, ports[i].Resp));
        }
        await using (var client = await KvClient.ConnectAsync(new KvClientOptions
        {
            ContactPoints = ports.Select(p => $"127.0.0.1:{p.Port.ToString(CultureInfo.InvariantCulture)}").ToList(),
            ConnectTimeout = TimeSpan.FromSeconds(60),
        }))
        {
            var sw = Stopwatch.StartNew();
            while (true)
            {
                bool ready = true;
                foreach (var (_, port, _) in Nodes)
                {
                    try
                    {
                        var s = await client.GetClusterStatusOfAsync($"akka.tcp://kv@127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
                        ready &= s.Serving && s.Members.Count == 3 && s.Members.All(m => m.Status == "Up") && s.Ring is { Settled: true } r && r.Owners.Distinct().Count() == 3;
                    }
                    catch (Exception e) when (e is KvException or TimeoutException or Akka.Actor.AskTimeoutException)
                    {
                        ready = false;
                    }
                }
                if (ready)
                    break;
                if (sw.Elapsed > TimeSpan.FromSeconds(60))
                    throw new TimeoutException("the three RESP nodes did not form a cluster with a settled ring in 60 s:\n" + string.Join("\n---\n", Nodes.Select(n => n.Process.Output[^Math.Min(3000, n.Process.Output.Length)..])));
                await Task.Delay(250);
            }
            // A real user for the AUTH checks (authentication is off: anonymous connections still work).
            await client.AddUserAsync("someone", "secret");
        }
        Redis = await Connect(Nodes[0].RespPort);
    }

    /// <summary>A StackExchange.Redis connection to one node's RESP port (no pub/sub: the front end has none).</summary>
    public static async Task<ConnectionMultiplexer> Connect(int respPort, string? user = null, string? password = null)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { { IPAddress.Loopback, respPort } },
            CommandMap = CommandMap.Create(["SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUBLISH", "CLUSTER", "SENTINEL"], available: false),
            TieBreaker = "",
            ConfigurationChannel = "",
            ConnectTimeout = 10_000,
            SyncTimeout = 20_000,
            AsyncTimeout = 20_000,
            User = user,
            Password = password,
        };
        var log = new StringWriter();
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(options, log);
        }
        catch (RedisConnectionException e)
        {
            throw new InvalidOperationException($"StackExchange.Redis did not connect to port {respPort}: {e.Message}\n{log}", e);
        }
    }

    public async Task DisposeAsync()
    {
        if (Redis is not null)
            await Redis.DisposeAsync();
        foreach (var n in Nodes)
            n.Process.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// The RESP front end on a 3-node cluster of real processes: StackExchange.Redis for strings, TTL,
/// counters, hashes, sets, lists, SCAN, wrong types and a pipelined batch; redis-cli (when installed)
/// for a few commands with AUTH; hostile bytes at the port leave the node up and serving.
/// </summary>
[Collection("processes")]
public sealed class RespSpec(RespCluster cluster, ITestOutputHelper output) : IClassFixture<RespCluster>
{
    private IDatabase Db => cluster.Redis.GetDatabase();

    [Fact]
    public async Task Strings_conditions_and_a_key_written_through_one_node_read_through_the_others()
    {
        Assert.True(await Db.StringSetAsync("s:a", "hello"));
        Assert.Equal("hello", (string?)await Db.StringGetAsync("s:a"));
        Assert.False(await Db.StringSetAsync("s:a", "again", when: When.NotExists));
        Assert.True(await Db.StringSetAsync("s:b", "b", when: When.NotExists));
        Assert.False(await Db.StringSetAsync("s:nothing", "x", when: When.Exists));
        Assert.Equal("hello", (string?)await Db.StringSetAndGetAsync("s:a", "world"));
        Assert.Equal(RedisType.String, await Db.KeyTypeAsync("s:a"));
        Assert.Equal(RedisType.None, await Db.KeyTypeAsync("s:nothing"));
        await Db.StringSetAsync([new("s:m1", "1"), new("s:m2", "2")]);
        var many = await Db.StringGetAsync(["s:m1", "s:nothing", "s:m2"]);
        Assert.Equal(["1", null, "2"], many.Select(v => (string?)v));
        Assert.Equal(2, await Db.KeyExistsAsync(["s:m1", "s:m2", "s:nothing"]));
        Assert.Equal(2, await Db.KeyDeleteAsync(["s:m1", "s:m2", "s:nothing"]));
        Assert.False(await Db.KeyExistsAsync("s:m1"));
        // Binary values go through as they are.
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await Db.StringSetAsync("s:bin", bytes);
        Assert.Equal(bytes, (byte[]?)await Db.StringGetAsync("s:bin"));

        // Another node sees the writes (the store's quorums, not the node's memory).
        await using var other = await RespCluster.Connect(cluster.Nodes[2].RespPort);
        Assert.Equal("world", (string?)await other.GetDatabase().StringGetAsync("s:a"));
        Assert.Equal(bytes, (byte[]?)await other.GetDatabase().StringGetAsync("s:bin"));
        // A bulk string over kv.max-object-size (256 KiB here) is a protocol error: answered, the
        // connection closed, nothing stored.
        var big = Encoding.ASCII.GetBytes("*3\r\n$3\r\nSET\r\n$5\r\ns:big\r\n$307200\r\n").Concat(new byte[307200]).Concat("\r\n"u8.ToArray()).ToArray();
        Assert.StartsWith("-ERR Protocol error: invalid bulk length", await Raw(cluster.Nodes[0].RespPort, big), StringComparison.Ordinal);
        Assert.False(await Db.KeyExistsAsync("s:big"));
    }

    [Fact]
    public async Task Ttl_expire_persist_and_set_with_ex_px_keepttl()
    {
        await Db.StringSetAsync("t:a", "v", TimeSpan.FromSeconds(100));
        var ttl = await Db.KeyTimeToLiveAsync("t:a");
        Assert.InRange(ttl!.Value.TotalSeconds, 90, 100);
        await Db.StringSetAsync("t:p", "v");
        Assert.Equal(-1L, (long)await Db.ExecuteAsync("TTL", "t:p"));
        Assert.Equal(-2L, (long)await Db.ExecuteAsync("TTL", "t:missing"));
        Assert.True(await Db.KeyExpireAsync("t:p", TimeSpan.FromSeconds(50)));
        Assert.InRange((long)await Db.ExecuteAsync("PTTL", "t:p"), 40_000, 50_000);
        Assert.True(await Db.KeyPersistAsync("t:p"));
        Assert.Null(await Db.KeyTimeToLiveAsync("t:p"));
        Assert.False(await Db.KeyExpireAsync("t:missing", TimeSpan.FromSeconds(5)));
        // KEEPTTL keeps the expiry across a new value; a plain SET drops it.
        await Db.ExecuteAsync("SET", "t:a", "v2", "KEEPTTL");
        Assert.NotNull(await Db.KeyTimeToLiveAsync("t:a"));
        await Db.StringSetAsync("t:a", "v3");
        Assert.Null(await Db.KeyTimeToLiveAsync("t:a"));
        // PX: gone once it passes.
        // (A node counts a value expired kv.ttl.clock-skew-tolerance, 1 s, before its expiry.)
        await Db.ExecuteAsync("SET", "t:short", "v", "PX", "2500");
        Assert.Equal("v", (string?)await Db.StringGetAsync("t:short"));
        await Task.Delay(2600);
        Assert.False(await Db.KeyExistsAsync("t:short"));
        Assert.Null((string?)await Db.StringGetAsync("t:short"));
        var bad = await Assert.ThrowsAsync<RedisServerException>(() => Db.ExecuteAsync("SET", "t:x", "v", "EX", "0"));
        Assert.StartsWith("ERR invalid expire time", bad.Message, StringComparison.Ordinal);
        var syntax = await Assert.ThrowsAsync<RedisServerException>(() => Db.ExecuteAsync("SET", "t:x", "v", "NX", "XX"));
        Assert.Equal("ERR syntax error", syntax.Message);
        Assert.False(await Db.KeyExistsAsync("t:x"));
    }

    [Fact]
    public async Task Counters_on_strings_and_their_errors()
    {
        await Db.StringSetAsync("c:a", "10");
        Assert.Equal(11, await Db.StringIncrementAsync("c:a"));
        Assert.Equal(6, await Db.StringDecrementAsync("c:a", 5));
        Assert.Equal(1, await Db.StringIncrementAsync("c:new"));
        Assert.Equal(-3, await Db.StringDecrementAsync("c:new2", 3));
        Assert.Equal("6", (string?)await Db.StringGetAsync("c:a"));
        Assert.Equal(7.5, await Db.StringIncrementAsync("c:a", 1.5));
        Assert.Equal("7.5", (string?)await Db.StringGetAsync("c:a"));
        var notInt = await Assert.ThrowsAsync<RedisServerException>(() => Db.StringIncrementAsync("c:a"));
        Assert.Equal("ERR value is not an integer or out of range", notInt.Message);
        await Db.StringSetAsync("c:max", long.MaxValue.ToString(CultureInfo.InvariantCulture));
        var overflow = await Assert.ThrowsAsync<RedisServerException>(() => Db.StringIncrementAsync("c:max"));
        Assert.Equal("ERR increment or decrement would overflow", overflow.Message);
        Assert.Equal(long.MaxValue.ToString(CultureInfo.InvariantCulture), (string?)await Db.StringGetAsync("c:max"));
        // INCR keeps a TTL.
        await Db.StringSetAsync("c:ttl", "1", TimeSpan.FromSeconds(100));
        Assert.Equal(2, await Db.StringIncrementAsync("c:ttl"));
        Assert.NotNull(await Db.KeyTimeToLiveAsync("c:ttl"));
    }

    [Fact]
    public async Task Hashes_sets_lists_and_wrong_types()
    {
        Assert.Equal(2, (long)await Db.ExecuteAsync("HSET", "h:a", "f1", "v1", "f2", "v2"));
        Assert.Equal("v1", (string?)await Db.HashGetAsync("h:a", "f1"));
        Assert.Null((string?)await Db.HashGetAsync("h:a", "nope"));
        Assert.Equal(5, await Db.HashIncrementAsync("h:a", "n", 5));
        var all = (await Db.HashGetAllAsync("h:a")).ToDictionary(e => (string)e.Name!, e => (string?)e.Value);
        Assert.Equal(new Dictionary<string, string?> { ["f1"] = "v1", ["f2"] = "v2", ["n"] = "5" }, all);
        Assert.True(await Db.HashDeleteAsync("h:a", "f2"));
        Assert.Equal(RedisType.Hash, await Db.KeyTypeAsync("h:a"));

        Assert.Equal(3, await Db.SetAddAsync("z:a", ["x", "y", "z"]));
        Assert.Equal(0, await Db.SetAddAsync("z:a", ["x"]));
        Assert.True(await Db.SetRemoveAsync("z:a", "y"));
        Assert.Equal(["x", "z"], (await Db.SetMembersAsync("z:a")).Select(m => (string)m!).Order(StringComparer.Ordinal));
        Assert.True(await Db.SetContainsAsync("z:a", "x"));
        Assert.False(await Db.SetContainsAsync("z:a", "y"));
        Assert.Equal(2, await Db.SetLengthAsync("z:a"));
        Assert.Equal(RedisType.Set, await Db.KeyTypeAsync("z:a"));

        Assert.Equal(2, await Db.ListRightPushAsync("l:a", ["b", "c"]));
        Assert.Equal(3, await Db.ListLeftPushAsync("l:a", "a"));
        Assert.Equal(["a", "b", "c"], (await Db.ListRangeAsync("l:a")).Select(v => (string)v!));
        Assert.Equal(["b", "c"], (await Db.ListRangeAsync("l:a", 1, -1)).Select(v => (string)v!));
        Assert.Equal("a", (string?)await Db.ListLeftPopAsync("l:a"));
        Assert.Equal("c", (string?)await Db.ListRightPopAsync("l:a"));
        Assert.Equal(1, await Db.ListLengthAsync("l:a"));
        Assert.Equal(RedisType.List, await Db.KeyTypeAsync("l:a"));
        Assert.Null((string?)await Db.ListLeftPopAsync("l:empty"));

        // A key is of one type: the others refuse it with WRONGTYPE and store nothing.
        await Db.StringSetAsync("w:s", "plain");
        var e1 = await Assert.ThrowsAsync<RedisServerException>(() => Db.HashSetAsync("w:s", "f", "v"));
        Assert.StartsWith("WRONGTYPE", e1.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RedisServerException>(() => Db.SetAddAsync("w:s", "m"));
        await Assert.ThrowsAsync<RedisServerException>(() => Db.ListLeftPushAsync("w:s", "m"));
        var e2 = await Assert.ThrowsAsync<RedisServerException>(() => Db.StringGetAsync("h:a"));
        Assert.StartsWith("WRONGTYPE", e2.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RedisServerException>(() => Db.StringIncrementAsync("z:a"));
        await Assert.ThrowsAsync<RedisServerException>(() => Db.HashGetAllAsync("l:a"));
        Assert.Equal(RedisType.String, await Db.KeyTypeAsync("w:s"));
        // DEL removes a key of any type.
        Assert.Equal(3, await Db.KeyDeleteAsync(["h:a", "z:a", "l:a"]));
        Assert.Equal(RedisType.None, await Db.KeyTypeAsync("h:a"));
        Assert.Empty(await Db.HashGetAllAsync("h:a"));
    }

    [Fact]
    public async Task Scan_with_a_prefix_pages_through_every_type_and_refuses_other_patterns()
    {
        var strings = Enumerable.Range(0, 25).Select(i => $"scan:{i:00}").ToList();
        await Task.WhenAll(strings.Select(k => Db.StringSetAsync(k, "v")));
        await Db.HashSetAsync("scan:hash", "f", "v");
        await Db.SetAddAsync("scan:set", "m");
        await Db.StringSetAsync("other:1", "v");
        var server = cluster.Redis.GetServer(IPAddress.Loopback, cluster.Nodes[0].RespPort);
        var seen = server.Keys(pattern: "scan:*", pageSize: 7).Select(k => (string)k!).ToList();
        Assert.Equal(strings.Append("scan:hash").Append("scan:set").Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
        // The raw cursor protocol: a page of COUNT, a cursor, 0 at the end.
        var first = (RedisResult[])(await Db.ExecuteAsync("SCAN", "0", "MATCH", "scan:*", "COUNT", "10"))!;
        Assert.NotEqual("0", (string?)first[0]);
        Assert.InRange(((RedisResult[])first[1]!).Length, 1, 10);
        var e = await Assert.ThrowsAsync<RedisServerException>(() => Db.ExecuteAsync("SCAN", "0", "MATCH", "*scan"));
        Assert.StartsWith("ERR", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RedisServerException>(() => Db.ExecuteAsync("SCAN", "12345678"));
    }

    [Fact]
    public async Task A_pipelined_batch_of_a_thousand_commands_answers_in_order()
    {
        var sets = Enumerable.Range(0, 500).Select(i => Db.StringSetAsync($"p:{i}", $"v{i}")).ToList();
        var gets = Enumerable.Range(0, 500).Select(i => Db.StringGetAsync($"p:{i}")).ToList();
        Assert.All(await Task.WhenAll(sets), Assert.True);
        var values = await Task.WhenAll(gets);
        for (int i = 0; i < 500; i++)
            Assert.Equal($"v{i}", (string?)values[i]);
        // Order of effects on one key: SET, INCR, GET, APPEND-like overwrite, GET in one pipeline.
        var batch = Db.CreateBatch();
        var a = batch.StringSetAsync("p:one", "1");
        var b = batch.StringIncrementAsync("p:one");
        var c = batch.StringGetAsync("p:one");
        var d = batch.StringSetAsync("p:one", "x");
        var e = batch.StringGetAsync("p:one");
        batch.Execute();
        await Task.WhenAll(a, b, c, d, e);
        Assert.Equal(2, await b);
        Assert.Equal("2", (string?)await c);
        Assert.Equal("x", (string?)await e);
    }

    [Fact]
    public void Redis_cli_runs_commands_with_auth()
    {
        if (!File.Exists("/usr/bin/redis-cli") && !File.Exists("/usr/local/bin/redis-cli"))
        {
            output.WriteLine("SKIPPED: redis-cli is not installed (apt-get install redis-tools)");
            return;
        }
        string port = cluster.Nodes[1].RespPort.ToString(CultureInfo.InvariantCulture);
        Assert.Equal("PONG", Cli("-p", port, "PING"));
        Assert.Equal("OK", Cli("-p", port, "--user", "someone", "--pass", "secret", "--no-auth-warning", "SET", "cli:a", "hello world"));
        Assert.Equal("hello world", Cli("-p", port, "--user", "someone", "--pass", "secret", "--no-auth-warning", "GET", "cli:a"));
        Assert.Contains("WRONGPASS", Cli("-p", port, "--user", "someone", "--pass", "wrong", "--no-auth-warning", "PING"), StringComparison.Ordinal);
        Assert.Contains("WRONGPASS", Cli("-p", port, "--user", "nobody", "--pass", "secret", "--no-auth-warning", "PING"), StringComparison.Ordinal);
        Assert.Equal("3", Cli("-p", port, "RPUSH", "cli:l", "a", "b", "c"));
        Assert.Equal("a\nb\nc", Cli("-p", port, "LRANGE", "cli:l", "0", "-1"));
        Assert.Equal("list", Cli("-p", port, "TYPE", "cli:l"));
        Assert.Contains("redis_version:", Cli("-p", port, "INFO", "server"), StringComparison.Ordinal);
        Assert.Contains("WRONGTYPE", Cli("-p", port, "GET", "cli:l"), StringComparison.Ordinal);
        // Pipe mode: many commands in one stream, counted replies.
        var piped = Cli(["-p", port, "--pipe"], stdin: string.Concat(Enumerable.Range(0, 200).Select(i => $"SET cli:p{i} {i}\r\n")));
        Assert.Contains("errors: 0, replies: 200", piped, StringComparison.Ordinal);
        Assert.Equal("199", Cli("-p", port, "GET", "cli:p199"));
    }

    private string Cli(params string[] args) => Cli(args, stdin: null);

    private string Cli(string[] args, string? stdin)
    {
        var psi = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null)
            p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        string text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30_000), "redis-cli did not finish");
        output.WriteLine($"redis-cli {string.Join(' ', args)} -> {text}");
        return text.Trim();
    }

    [Fact]
    public async Task Hostile_bytes_at_the_port_leave_the_node_up_bounded_and_serving_others()
    {
        var node = cluster.Nodes[2];
        long before = Process.GetProcessById(node.Process.Process.Id).WorkingSet64;
        // A client that sends half a command and stalls holds its connection, nobody else.
        using var stalled = new TcpClient();
        await stalled.ConnectAsync(IPAddress.Loopback, node.RespPort);
        await stalled.GetStream().WriteAsync("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nhalf"u8.ToArray());

        Assert.StartsWith("-ERR Protocol error: invalid multibulk length", await Raw(node.RespPort, "*999999999\r\n"u8.ToArray()), StringComparison.Ordinal);
        Assert.StartsWith("-ERR Protocol error: invalid bulk length", await Raw(node.RespPort, "*1\r\n$2147483647\r\n"u8.ToArray()), StringComparison.Ordinal);
        Assert.StartsWith("-ERR Protocol error: nested arrays", await Raw(node.RespPort, Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", 10_000)))), StringComparison.Ordinal);
        Assert.StartsWith("-ERR Protocol error: expected '$'", await Raw(node.RespPort, "*2\r\n:1\r\n"u8.ToArray()), StringComparison.Ordinal);
        var garbage = new byte[200_000];
        new Random(7).NextBytes(garbage);
        garbage[0] = (byte)'x'; // an inline line, never ended: refused past 64 KiB
        for (int i = 0; i < garbage.Length; i++)
            if (garbage[i] == (byte)'\n')
                garbage[i] = (byte)' ';
        Assert.StartsWith("-ERR Protocol error: too big inline request", await Raw(node.RespPort, garbage), StringComparison.Ordinal);
        // A command that declares its bulk strings and never ends them fills no more than the query buffer.
        var many = Encoding.ASCII.GetBytes("*65536\r\n" + string.Concat(Enumerable.Repeat("$3\r\nabc\r\n", 60_000)));
        Assert.Equal("", await Raw(node.RespPort, many, expectClose: false));

        // The node still serves: a new connection and the half-finished one unaffected by the others.
        await using var redis = await RespCluster.Connect(node.RespPort);
        await redis.GetDatabase().StringSetAsync("hostile:after", "ok");
        Assert.Equal("ok", (string?)await redis.GetDatabase().StringGetAsync("hostile:after"));
        await stalled.GetStream().WriteAsync(Encoding.ASCII.GetBytes(new string('x', 96) + "\r\n"));
        var buf = new byte[64];
        int n = await stalled.GetStream().ReadAsync(buf).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("+OK\r\n", Encoding.ASCII.GetString(buf, 0, n));
        long after = Process.GetProcessById(node.Process.Process.Id).WorkingSet64;
        output.WriteLine($"working set {before >> 20} MiB -> {after >> 20} MiB");
        Assert.True(after - before < 200L << 20, $"working set grew by {(after - before) >> 20} MiB");
        Assert.False(node.Process.Process.HasExited);
    }

    /// <summary>Sends bytes, returns what came back until the server closed (or, with <paramref name="expectClose"/> false, what came within a second).</summary>
    private static async Task<string> Raw(int port, byte[] bytes, bool expectClose = true)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(bytes);
        }
        catch (IOException)
        {
            // the server closed on an early error while the rest was being sent
        }
        var got = new MemoryStream();
        var buf = new byte[4096];
        using var cts = new CancellationTokenSource(expectClose ? TimeSpan.FromSeconds(10) : TimeSpan.FromSeconds(1));
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(buf, cts.Token);
                if (n == 0)
                    break;
                got.Write(buf, 0, n);
            }
        }
        catch (OperationCanceledException) when (!expectClose)
        {
        }
        catch (IOException)
        {
            // reset after the error reply
        }
        return Encoding.UTF8.GetString(got.ToArray());
    }
}
