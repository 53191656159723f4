using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kv.Client;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>
/// The README's tour on real processes: `kv dev start --nodes 3`, put, get, kill -9 the node the
/// client talks to first, get again (client failover); the `kv` command's answers to bad input;
/// `kv cluster status` after the kill; `kv dev stop`.
/// </summary>
[Collection("processes")]
public sealed class DevClusterSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-dev-").FullName;

    private (int Code, string Out, string Err) Kv(params string[] args) => KvWithInput("", args);

    private (int Code, string Out, string Err) KvWithInput(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Program.Run(args, new StringReader(stdin), stdout, stderr);
        output.WriteLine($"kv {string.Join(' ', args)} -> {code}\n{stdout}{stderr}");
        return (code, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        Kv("dev", "stop", "--dir", _dir, "--kill");
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    [Fact]
    public async Task Three_nodes_put_get_kill_one_get_again()
    {
        string cwd = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(Processes.RepoRoot());
        try
        {
            var start = Kv("dev", "start", "--nodes", "3", "--dir", _dir);
            Assert.True(start.Code == 0, start.Out + start.Err);
            Assert.Contains("cluster ready: 3 nodes", start.Out, StringComparison.Ordinal);
        }
        finally
        {
            Directory.SetCurrentDirectory(cwd);
        }

        // Data from the shell.
        var put = Kv("put", "default", "tour", "hello");
        Assert.Equal(0, put.Code);
        var get = Kv("get", "default", "tour");
        Assert.Equal(0, get.Code);
        Assert.EndsWith("\thello\n", get.Out.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(0, Kv("put", "default", "tour", "world", "--context", put.Out.Trim()).Code);
        Assert.Equal("world", Kv("get", "default", "tour", "--raw").Out);
        DataTypesFromTheCommandLine();
        var status = Kv("cluster", "status");
        Assert.Equal(0, status.Code);
        Assert.Contains("akka.tcp://kv@127.0.0.1:2553", status.Out, StringComparison.Ordinal);
        Assert.Equal(0, Kv("cluster", "ring").Code);
        Assert.Equal(0, Kv("cluster", "transfers").Code);
        var hints = Kv("cluster", "hints");
        Assert.Equal(0, hints.Code);
        Assert.Contains("no hints held", hints.Out, StringComparison.Ordinal);
        // Anti-entropy: every node answers with its vnodes' trees and the pairs it has exchanged.
        var aae = Kv("cluster", "aae");
        Assert.Equal(0, aae.Code);
        foreach (int nodePort in new[] { 2551, 2552, 2553 })
            Assert.Contains($"akka.tcp://kv@127.0.0.1:{nodePort}: ", aae.Out, StringComparison.Ordinal);
        Assert.Contains("vnodes with trees built", aae.Out, StringComparison.Ordinal);
        Assert.Contains("pairs exchanged", aae.Out, StringComparison.Ordinal);

        // Bad input: clear errors, exit codes a script can rely on.
        Assert.Equal(2, Kv("put", "default").Code);
        Assert.Equal(2, Kv("get").Code);
        Assert.Equal(2, Kv("get", "default", "k", "--r", "many").Code);
        Assert.Equal(2, Kv("put", "default", "k", "v", "--context", "!!not-a-context!!").Code);
        var huge = KvWithInput(new string('x', 2_000_000), "put", "default", "huge");
        Assert.Equal(7, huge.Code);
        Assert.Contains("exceeds kv.max-object-size", huge.Err, StringComparison.Ordinal);
        var emptyKey = Kv("put", "default", "", "v");
        Assert.Equal(7, emptyKey.Code);
        Assert.Contains("a key must be", emptyKey.Err, StringComparison.Ordinal);
        var longKey = Kv("get", "default", new string('k', 70_000));
        Assert.Equal(7, longKey.Code);
        var unknownNs = Kv("get", "nope", "k");
        Assert.Equal(7, unknownNs.Code);
        Assert.Contains("unknown namespace 'nope'", unknownNs.Err, StringComparison.Ordinal);
        var badQuorum = Kv("put", "default", "k", "v", "--w", "4");
        Assert.Equal(7, badQuorum.Code);
        Assert.Equal(1, Kv("get", "default", "never-written").Code);
        var nobody = Kv("get", "default", "k", "--nodes", "127.0.0.1:1");
        Assert.Equal(5, nobody.Code);

        // TTL and exists (docs/data-api/ttl-and-exists.md).
        Assert.Equal(0, Kv("put", "default", "ttl-tour", "short-lived", "--ttl", "60s").Code);
        var left = Kv("ttl", "default", "ttl-tour");
        Assert.Equal(0, left.Code);
        Assert.Matches(@"^(5\d|60)\.\d{3}s$", left.Out.Trim());
        Assert.Equal((0, "yes"), (Kv("exists", "default", "ttl-tour").Code, Kv("exists", "default", "ttl-tour").Out.Trim()));
        Assert.Equal("none", Kv("ttl", "default", "tour").Out.Trim());
        var absent = Kv("exists", "default", "never-written");
        Assert.Equal((1, "no"), (absent.Code, absent.Out.Trim()));
        Assert.Equal(1, Kv("ttl", "default", "never-written").Code);
        foreach (string bad in new[] { "0s", "-5s", "4000d", "soon" })
        {
            var refused = Kv("put", "default", "ttl-bad", "v", "--ttl", bad);
            Assert.Equal(2, refused.Code);
            Assert.Contains("--ttl", refused.Err, StringComparison.Ordinal);
        }
        Assert.Equal(1, Kv("exists", "default", "ttl-bad").Code); // nothing was stored
        Assert.Equal(0, Kv("put", "default", "ttl-short", "v", "--ttl", "1500ms").Code);
        await Task.Delay(1600);
        Assert.Equal(1, Kv("get", "default", "ttl-short").Code);
        Assert.Equal(1, Kv("exists", "default", "ttl-short").Code);

        // Client failover: kill -9 the first node of the key's preference list, the one the client sends to.
        await using var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = ["127.0.0.1:2551", "127.0.0.1:2552", "127.0.0.1:2553"] });
        var keys = Enumerable.Range(0, 50).Select(i => "failover-" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        foreach (string k in keys)
            await client.PutAsync("default", k, "v-" + k);
        var ring = (await client.GetClusterStatusAsync()).Ring!;
        string victim = ring.PreferenceList(Encoding.UTF8.GetBytes("default"), Encoding.UTF8.GetBytes(keys[0]), 1)[0].Node;
        int port = int.Parse(victim[(victim.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        int pid = int.Parse(File.ReadAllText(Path.Combine(_dir, "node" + (port - 2550).ToString(CultureInfo.InvariantCulture), "pid")), CultureInfo.InvariantCulture);
        Process.GetProcessById(pid).Kill();
        output.WriteLine($"killed {victim} (pid {pid})");

        var sw = Stopwatch.StartNew();
        var obj = await client.GetAsync("default", keys[0]);
        output.WriteLine($"first get after the kill: {sw.ElapsedMilliseconds} ms");
        Assert.Equal("v-" + keys[0], obj.Value.AsString());
        foreach (string k in keys)
            Assert.Equal("v-" + k, (await client.GetAsync("default", k)).Value.AsString());
        await client.PutAsync("default", keys[0], "after the kill", obj.Context);
        Assert.Equal("after the kill", (await client.GetAsync("default", keys[0])).Value.AsString());

        // The cluster's failure detector marks the node unreachable within ~5 s of the kill (phi 8,
        // 3 s acceptable pause); the status shows it from then on.
        var after = Kv("cluster", "status");
        var warnBy = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!after.Out.Contains($"warning: {victim} is unreachable", StringComparison.Ordinal) && DateTime.UtcNow < warnBy)
        {
            await Task.Delay(500);
            after = Kv("cluster", "status");
        }
        Assert.Equal(0, after.Code);
        Assert.Contains($"warning: {victim} is unreachable", after.Out, StringComparison.Ordinal);
        Assert.Equal("world", Kv("get", "default", "tour", "--raw").Out);
    }

    /// <summary>The data type verbs on the dev cluster's namespaces (docs/data-api/data-types.md), and their refusals (exit 7, nothing stored).</summary>
    private void DataTypesFromTheCommandLine()
    {
        string Out((int Code, string Out, string Err) r)
        {
            Assert.Equal(0, r.Code);
            return r.Out.Replace("\r", "", StringComparison.Ordinal);
        }
        Assert.Equal("1\n", Out(Kv("incr", "counters", "visits")));
        Assert.Equal("11\n", Out(Kv("incr", "counters", "visits", "10")));
        Assert.Equal("8\n", Out(Kv("decr", "counters", "visits", "3")));
        Assert.Equal("8\n", Out(Kv("get", "counters", "visits")));
        Assert.Equal(7, Kv("incr", "counters", "visits", "9223372036854775807").Code); // would overflow
        Assert.Equal(7, Kv("put", "counters", "visits", "5").Code);
        Assert.Equal(7, Kv("sadd", "counters", "visits", "x").Code);
        Assert.Equal(7, Kv("incr", "default", "tour").Code);
        Assert.Equal(2, Kv("incr", "counters", "visits", "ten").Code);
        Assert.Equal("8\n", Out(Kv("get", "counters", "visits")));

        Assert.Equal("3\n", Out(Kv("sadd", "sets", "tags", "a", "b", "c")));
        Assert.Equal("1\n", Out(Kv("srem", "sets", "tags", "b")));
        Assert.Equal("a\nc\n", Out(Kv("smembers", "sets", "tags")));
        Assert.Equal("a\nc\n", Out(Kv("get", "sets", "tags")));
        Assert.Equal(0, Kv("sismember", "sets", "tags", "a").Code);
        Assert.Equal(1, Kv("sismember", "sets", "tags", "b").Code);
        Assert.Equal("2\n", Out(Kv("scard", "sets", "tags")));

        Assert.Equal(0, Kv("put", "registers", "limit", "42", "--type", "int").Code);
        Assert.Equal(7, Kv("put", "registers", "limit", "4x", "--type", "int").Code);
        Assert.Equal(7, Kv("put", "registers", "limit", "5").Code);
        Assert.Equal("42\n", Out(Kv("get", "registers", "limit")));

        Assert.Equal("2\n", Out(Kv("hset", "hashes", "user:1", "name", "ann", "city", "oslo")));
        Assert.Equal("3\n", Out(Kv("hincr", "hashes", "user:1", "visits", "3")));
        Assert.Equal("1\n", Out(Kv("hdel", "hashes", "user:1", "city")));
        Assert.Equal("ann\n", Out(Kv("hget", "hashes", "user:1", "name")));
        Assert.Equal(1, Kv("hget", "hashes", "user:1", "city").Code);
        Assert.Equal("name\tann\nvisits\t3\n", Out(Kv("get", "hashes", "user:1")));

        Assert.Equal("3\n", Out(Kv("rpush", "lists", "jobs", "b", "c", "d")));
        Assert.Equal("4\n", Out(Kv("lpush", "lists", "jobs", "a")));
        Assert.Equal("d\n", Out(Kv("rpop", "lists", "jobs")));
        Assert.Equal("a\nb\nc\n", Out(Kv("lrange", "lists", "jobs", "0", "-1")));
        Assert.Equal("1\n", Out(Kv("lrem", "lists", "jobs", "0", "b")));
        Assert.Equal("2\n", Out(Kv("llen", "lists", "jobs")));
        Assert.Equal(1, Kv("lpop", "lists", "empty").Code);
    }
}
