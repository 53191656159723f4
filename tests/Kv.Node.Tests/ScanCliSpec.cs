using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Kv.Actors;
using Kv.Actors.Coordinators;
using Kv.Actors.Scans;
using Kv.Client;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Node.Tests;

/// <summary>
/// `kv scan` and <see cref="KvClient.ScanAsync"/> end to end against a node running in this process
/// (the node's own Akka configuration and registrations, real sockets and storage): pages on stdout,
/// the next page's token on stderr, and the exit codes of bad input.
/// </summary>
public sealed class ScanCliSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-scan-cli-").FullName;
    private ActorSystem? _system;
    private string _nodes = "";

    private (int Code, string Out, string Err) Kv(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Program.Run([.. args, "--nodes", _nodes], new StringReader(""), stdout, stderr);
        output.WriteLine($"kv {string.Join(' ', args)} -> {code}\n{stdout}{stderr}");
        return (code, stdout.ToString().Replace("\r", "", StringComparison.Ordinal), stderr.ToString().Trim());
    }

    public async Task InitializeAsync()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        _nodes = $"127.0.0.1:{port}";
        var settings = NodeSettings.Load(NodeArguments.Parse(["--data-dir", _dir, "--kv.remote.hostname=127.0.0.1", $"--kv.remote.port={port}", "--kv.ring-size=16",
            "--kv.namespaces.counters.datatype=counter", "--kv.namespaces.sets.datatype=set"]));
        _system = ActorSystem.Create("kv", settings.Akka);
        var node = KvNode.Start(_system, settings.Store with { DataDirectory = _dir });
        ClusterClientReceptionist.Get(_system).RegisterService(node.Router);
        ClusterClientReceptionist.Get(_system).RegisterService(node.Admin);
        var cluster = ClusterExt.Get(_system);
        cluster.Join(cluster.SelfAddress);
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await node.IsServingAsync() && await node.GetRingAsync() is { Settled: true }))
        {
            if (DateTime.UtcNow > end)
                throw new TimeoutException("the node did not serve in time");
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        if (_system is not null)
            await _system.Terminate();
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
    public async Task Kv_scan_prints_pages_in_key_order_with_the_next_token_on_stderr_and_refuses_bad_input()
    {
        await using (var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = [_nodes] }))
        {
            var all = new RequestOptions { W = 3, DW = 3 };
            for (int i = 0; i < 12; i++)
                await client.PutAsync("default", $"p/{i:D2}", $"v{i}", options: all);
            await client.PutAsync("default", "q/1", "other", options: all);
            await client.PutAsync("default", "p/05", "v5b", options: all); // a sibling
            var gone = await client.GetAsync("default", "p/07");
            await client.DeleteAsync("default", "p/07", gone.Context, all);

            // The client API: pages, then every key through the async enumerable.
            var page = await client.ScanAsync("default", ScanRange.WithPrefix("p/"), 4);
            Assert.Equal(["p/00", "p/01", "p/02", "p/03"], page.Items.Select(i => i.Key));
            Assert.NotNull(page.NextToken);
            var keys = new List<string>();
            await foreach (var item in client.ScanAllAsync("default", ScanRange.WithPrefix("p/"), 5))
                keys.Add(item.Key);
            Assert.Equal(Enumerable.Range(0, 12).Where(i => i != 7).Select(i => $"p/{i:D2}"), keys);
            var five = (await client.ScanAsync("default", ScanRange.Between("p/05", "p/06"), 10)).Items.Single();
            Assert.Equal(["v5", "v5b"], five.Siblings.Select(s => s.AsString()).Order(StringComparer.Ordinal));
            await Assert.ThrowsAsync<InvalidRequestException>(() => client.ScanAsync("default", ScanRange.All, 10, "garbage"));
            await Assert.ThrowsAsync<UnknownNamespaceException>(() => client.ScanAsync("nope", ScanRange.All, 10));
        }

        // kv scan: KEY<TAB>VALUE per sibling, the token on stderr, --after continues.
        var first = Kv("scan", "default", "--prefix", "p/", "--limit", "5");
        Assert.Equal(0, first.Code);
        Assert.Equal("p/00\tv0\np/01\tv1\np/02\tv2\np/03\tv3\np/04\tv4\n", first.Out);
        Assert.False(string.IsNullOrEmpty(first.Err));
        var second = Kv("scan", "default", "--prefix", "p/", "--limit", "5", "--after", first.Err);
        Assert.Equal(0, second.Code);
        var lines = second.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["p/05\tv5", "p/05\tv5b", "p/06\tv6", "p/08\tv8", "p/09\tv9", "p/10\tv10"], lines.Order(StringComparer.Ordinal));
        var last = Kv("scan", "default", "--prefix", "p/", "--limit", "5", "--after", second.Err, "--r", "3");
        Assert.Equal(("p/11\tv11\n", ""), (last.Out, last.Err)); // the end: no token
        var range = Kv("scan", "default", "--start", "p/10", "--end", "q/2");
        Assert.Equal("p/10\tv10\np/11\tv11\nq/1\tother\n", range.Out);

        // Bad input: usage errors (2) before connecting, refusals by the cluster (7).
        Assert.Equal(2, Kv("scan").Code);
        Assert.Equal(2, Kv("scan", "default", "--limit", "0").Code);
        Assert.Equal(2, Kv("scan", "default", "--limit", "10001").Code);
        Assert.Equal(2, Kv("scan", "default", "--prefix", "p", "--start", "a").Code);
        var badToken = Kv("scan", "default", "--prefix", "p/", "--after", "not-a-token");
        Assert.Equal(7, badToken.Code);
        Assert.Contains("bad continuation token", badToken.Err, StringComparison.Ordinal);
        var otherRange = Kv("scan", "default", "--prefix", "q/", "--after", first.Err);
        Assert.Equal(7, otherRange.Code);
        Assert.Contains("other bounds", otherRange.Err, StringComparison.Ordinal);
        var backwards = Kv("scan", "default", "--start", "b", "--end", "a");
        Assert.Equal(7, backwards.Code);
        Assert.Contains("start must not come after end", backwards.Err, StringComparison.Ordinal);
        var unknown = Kv("scan", "nope", "--prefix", "p/");
        Assert.Equal(7, unknown.Code);
        Assert.Contains("unknown namespace 'nope'", unknown.Err, StringComparison.Ordinal);
        Assert.Equal(7, Kv("scan", "default", "--r", "4").Code);
    }

    [Fact]
    public async Task Kv_scan_of_a_data_type_namespace_prints_each_value_in_its_plain_form()
    {
        await using (var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = [_nodes] }))
        {
            await client.IncrementAsync("counters", "c/1", 5);
            await client.DecrementAsync("counters", "c/2", 3);
            await client.SetAddAsync("sets", "s/1", ["b", "a"]);
        }
        var counters = Kv("scan", "counters", "--prefix", "c/");
        Assert.Equal(0, counters.Code);
        Assert.Equal("c/1\t5\nc/2\t-3\n", counters.Out);
        var sets = Kv("scan", "sets");
        Assert.Equal(0, sets.Code);
        Assert.Equal("s/1\ta\ns/1\tb\n", sets.Out);
        // A data type's value has no time to live: refused before anything is sent.
        var ttl = Kv("put", "registers", "k", "1", "--type", "int", "--ttl", "5s");
        Assert.Equal(2, ttl.Code);
        Assert.Contains("--ttl cannot be combined with --type", ttl.Err, StringComparison.Ordinal);
    }
}
