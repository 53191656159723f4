using Kv.Actors.Wire;
using Kv.Client;
using Akka.Actor;

namespace Kv.Node.Tests;

/// <summary>The node host as a process, started the way the README starts it (no arguments: embedded defaults).</summary>
[Collection("processes")]
public sealed class NodeProcessSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-node-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // a killed process may still hold a file for a moment
        }
    }

    [Fact]
    public async Task A_node_with_defaults_serves_refuses_a_second_node_on_its_data_and_stops_cleanly_on_SIGTERM()
    {
        using (var node = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir))
        {
            await node.WaitForOutput("ring v1", TimeSpan.FromSeconds(30));
            Assert.True(Directory.Exists(Path.Combine(_dir, "data", "vnodes")), "data goes under ./data");
            await using (var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = ["127.0.0.1:2551"] }))
            {
                await client.PutAsync("default", "greeting", "hello");
                var obj = await client.GetAsync("default", "greeting");
                Assert.Equal("hello", obj.Value.AsString());
                await Assert.ThrowsAsync<UnknownNamespaceException>(() => client.GetAsync("undeclared", "k"));
            }
            await ActorApiRoundTrip();

            using (var second = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir, "--port", Processes.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                Assert.Equal(3, await second.WaitForExit(TimeSpan.FromSeconds(30)));
                Assert.Contains("is in use by another node", second.Output, StringComparison.Ordinal);
            }

            node.Signal(15);
            Assert.Equal(0, await node.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains("stopped", node.Output, StringComparison.Ordinal);
        }

        // Restarted on the same data: the acknowledged write is there.
        using var again = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir);
        await again.WaitForOutput("is Up", TimeSpan.FromSeconds(30));
        await using (var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = ["127.0.0.1:2551"] }))
        {
            var obj = await client.GetAsync("default", "greeting");
            Assert.Equal("hello", obj.Value.AsString());
        }
        again.Signal(2);
        Assert.Equal(0, await again.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Acknowledged_writes_survive_kill_9_through_the_shared_commit_log()
    {
        const int Keys = 300;
        using (var node = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir))
        {
            await node.WaitForOutput("ring v1", TimeSpan.FromSeconds(30));
            await using (var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = ["127.0.0.1:2551"] }))
            {
                // Concurrent durable writes (dw 2 by default) to many vnodes: they share fsyncs.
                await Task.WhenAll(Enumerable.Range(0, Keys).Select(i => client.PutAsync("default", $"k{i}", $"v{i}")));
            }
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(_dir, "data", "commitlog"), "*.clog"));
            node.Signal(9);
            await node.WaitForExit(TimeSpan.FromSeconds(30));
        }
        // Switching to per-vnode WALs now would hide the writes only the commit log holds: refused.
        using (var perVnode = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir, "--kv.storage.commit-log", "per-vnode"))
        {
            Assert.Equal(3, await perVnode.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains("still holds writes of the shared commit log", perVnode.Output, StringComparison.Ordinal);
        }
        // Nothing was flushed: every acknowledged write comes back from the commit log.
        using var again = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir);
        await again.WaitForOutput("is Up", TimeSpan.FromSeconds(30));
        await using (var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = ["127.0.0.1:2551"] }))
        {
            for (int i = 0; i < Keys; i++)
            {
                var obj = await client.GetAsync("default", $"k{i}");
                Assert.True(obj.Found, $"k{i} was acknowledged before kill -9 and is gone");
                Assert.Equal($"v{i}", obj.Value.AsString());
            }
        }
        again.Signal(15);
        Assert.Equal(0, await again.WaitForExit(TimeSpan.FromSeconds(30)));
        // A clean stop flushed every vnode and emptied the log: per-vnode WALs may take over.
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "data", "commitlog"), "*.clog"));
        using var switched = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir, "--kv.storage.commit-log", "per-vnode");
        await switched.WaitForOutput("is Up", TimeSpan.FromSeconds(30));
        await using (var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = ["127.0.0.1:2551"] }))
            Assert.Equal("v7", (await client.GetAsync("default", "k7")).Value.AsString());
        switched.Signal(15);
        Assert.Equal(0, await switched.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    /// <summary>The client's actor API from a caller's own actor system: messages in, replies (or a KvFailure) back.</summary>
    private static async Task ActorApiRoundTrip()
    {
        // A caller's own (non-cluster) actor system: remoting and the store's serializers.
        var system = ActorSystem.Create("app", KvClient.AkkaConfig(new KvClientOptions()));
        try
        {
            var kv = system.ActorOf(KvClient.Props(new KvClientOptions { ContactPoints = ["127.0.0.1:2551"] }), "kv");
            var timeout = TimeSpan.FromSeconds(20);
            // Sent at once, before the client has a ring: stashed, and run when the ring arrives.
            var early = kv.Ask<object>(new Put("default", "actor-api", "first"u8.ToArray()), timeout);
            Assert.IsType<ClientReady>(await kv.Ask<object>(AwaitReady.Instance, timeout));
            var written = Assert.IsType<KvWriteResult>(await early);
            Assert.IsType<KvWriteResult>(await kv.Ask<object>(new Put("default", "actor-api", "second"u8.ToArray(), written.Context), timeout));
            var read = Assert.IsType<KvObject>(await kv.Ask<object>(new Get("default", "actor-api"), timeout));
            Assert.Equal("second", read.Value.AsString());
            Assert.IsType<KvWriteResult>(await kv.Ask<object>(new Delete("default", "actor-api", read.Context), timeout));
            Assert.False(Assert.IsType<KvObject>(await kv.Ask<object>(new Get("default", "actor-api"), timeout)).Found);
            var refused = Assert.IsType<KvFailure>(await kv.Ask<object>(new Get("default", ""), timeout));
            Assert.IsType<InvalidKeyException>(refused.Error);

            // A client that finds no node: what it stashed fails once its connect timeout has passed.
            var lost = system.ActorOf(KvClient.Props(new KvClientOptions { ContactPoints = ["127.0.0.1:1"], ConnectTimeout = TimeSpan.FromSeconds(2) }), "lost");
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var failed = Assert.IsType<KvFailure>(await lost.Ask<object>(new Get("default", "k"), timeout));
            Assert.IsType<KvUnavailableException>(failed.Error);
            Assert.Contains("no contact point answered within 2 s", failed.Error.Message, StringComparison.Ordinal);
            Assert.InRange(sw.Elapsed.TotalSeconds, 1.5, 10);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task A_bad_setting_stops_the_node_at_start_with_exit_code_2()
    {
        using var node = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir, "--kv.ring-size", "48");
        Assert.Equal(2, await node.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("configuration error: kv.ring-size must be a power of two", node.Output, StringComparison.Ordinal);
    }
}
