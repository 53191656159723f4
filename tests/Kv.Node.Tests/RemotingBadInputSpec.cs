using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using Kv.Actors;
using Kv.Actors.Admin;
using Kv.Actors.Ring;
using Kv.Actors.Wire;
using Kv.Client;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>
/// Bad input at a real node's remoting port: garbage and oversized frames on raw sockets, and
/// store messages with an unknown manifest or a malformed payload from a real Akka peer. Each bad
/// connection or message is dropped with a log line; the node stays up and keeps serving the
/// clients and associations it has, and new ones.
/// </summary>
[Collection("processes")]
public sealed class RemotingBadInputSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-bad-").FullName;

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

    private Processes.Running StartNode(out int port)
    {
        port = Processes.FreePort();
        return new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir,
            "--port", port.ToString(CultureInfo.InvariantCulture), "--data-dir", Path.Combine(_dir, "data"));
    }

    private static KvClientOptions ClientOptions(int port) => new() { ContactPoints = [$"127.0.0.1:{port}"] };

    /// <summary>Akka's dot-netty framing: a 4-byte little-endian length, then the frame.</summary>
    private static byte[] Frame(int length, int bodyBytes)
    {
        var b = new byte[4 + bodyBytes];
        BinaryPrimitives.WriteInt32LittleEndian(b, length);
        new Random(length).NextBytes(b.AsSpan(4));
        return b;
    }

    /// <summary>Sends <paramref name="bytes"/> on a new connection; true when the node closed (or reset) it within the timeout.</summary>
    private static async Task<bool> SendAndSeeClosed(int port, byte[] bytes, TimeSpan timeout)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var stream = socket.GetStream();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await stream.WriteAsync(bytes, cts.Token);
            var buffer = new byte[4096];
            while (await stream.ReadAsync(buffer, cts.Token) > 0)
            {
                // the node has nothing to say to garbage; read until it closes
            }
            return true;
        }
        catch (IOException)
        {
            return true; // reset by the node (possibly while we were still writing)
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
            n++;
        return n;
    }

    [Fact]
    public async Task Random_bytes_and_oversized_frames_at_the_remoting_port_leave_the_node_up_and_serving()
    {
        using var node = StartNode(out int port);
        await node.WaitForOutput("ring v1", TimeSpan.FromSeconds(30));
        await using var client = await KvClient.ConnectAsync(ClientOptions(port));
        var written = await client.PutAsync("default", "before", "v1");
        node.Process.Refresh();
        long memoryBefore = node.Process.WorkingSet64;

        var random = new Random(27);
        var cases = new (string Name, Func<byte[]> Bytes, bool MustClose)[]
        {
            // Random: most 4-byte prefixes are negative or above the 4 MiB limit; one that is not may
            // leave the node waiting for the rest of its frame until we hang up, which is fine too.
            ("64 KiB of random bytes", () =>
            {
                var b = new byte[64 * 1024];
                random.NextBytes(b);
                return b;
            }, false),
            ("a length prefix claiming 64 MiB", () => Frame(64 << 20, 1000), true),
            ("a length prefix just over kv.remote.maximum-frame-size (4 MiB)", () => Frame((4 << 20) + 1, 1000), true),
            ("a negative length", () => Frame(-5, 100), true),
            ("an HTTP GET", () => Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"), true),
            ("a frame of the right length that is not an Akka PDU", () => Frame(100, 100), true),
        };
        int mustClose = 0;
        for (int round = 0; round < 3; round++)
        {
            foreach (var (name, bytes, close) in cases)
            {
                bool closed = await SendAndSeeClosed(port, bytes(), TimeSpan.FromSeconds(close ? 10 : 2));
                output.WriteLine($"round {round}: {name}: {(closed ? "closed by the node" : "still open, hung up")}");
                if (close)
                {
                    Assert.True(closed, $"the node did not close the connection that sent {name}");
                    mustClose++;
                }
            }
            Assert.False(node.Process.HasExited, "the node exited on bad input:\n" + node.Output);

            // The connected client still reads and writes between rounds.
            var read = await client.GetAsync("default", "before");
            Assert.Equal("v1", read.Value.AsString());
            await client.PutAsync("default", "during-" + round.ToString(CultureInfo.InvariantCulture), "ok");
        }

        Assert.False(node.Process.HasExited, "the node exited on bad input:\n" + node.Output);
        node.Process.Refresh();
        long grown = node.Process.WorkingSet64 - memoryBefore;
        output.WriteLine($"working set grew by {grown / 1024 / 1024} MiB");
        Assert.True(grown < 128L << 20, $"the node's working set grew by {grown / 1024 / 1024} MiB: were the claimed 64 MiB frames allocated?");

        // The client that was connected all along still reads and writes.
        var again = await client.GetAsync("default", "before");
        Assert.Equal("v1", again.Value.AsString());
        await client.PutAsync("default", "before", "v2", written.Context);
        Assert.Equal("v2", (await client.GetAsync("default", "before")).Value.AsString());

        // A new client connects and sees the data.
        await using (var fresh = await KvClient.ConnectAsync(ClientOptions(port)))
        {
            Assert.Equal("v2", (await fresh.GetAsync("default", "before")).Value.AsString());
            Assert.Equal("ok", (await fresh.GetAsync("default", "during-2")).Value.AsString());
            await fresh.PutAsync("default", "after", "v3");
        }

        // Akka's dot-netty server logs every connection it drops, with the reason.
        string log = node.Output;
        output.WriteLine(log);
        int dropped = Count(log, "Error caught channel");
        Assert.True(dropped >= mustClose, $"{dropped} dropped connections logged, {mustClose} expected at least");
        Assert.Contains("TooLongFrameException", log, StringComparison.Ordinal);
        Assert.Contains("Adjusted frame length exceeds 4194304: 67108868", log, StringComparison.Ordinal);
        Assert.Contains("negative pre-adjustment length field: -5", log, StringComparison.Ordinal);
        Assert.Contains("Error while decoding incoming Akka PDU of length 100", log, StringComparison.Ordinal);

        node.Signal(15);
        Assert.Equal(0, await node.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    /// <summary>A message the test system sends with any manifest and payload under KvSerializer's id.</summary>
    public sealed record Forged(string Manifest, byte[] Payload);

    /// <summary>
    /// KvSerializer, plus <see cref="Forged"/> messages written under its id with their own manifest
    /// and bytes: what a buggy or hostile peer, or a newer version of the store, could send.
    /// </summary>
    public sealed class ForgingSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
    {
        private readonly KvSerializer _inner = new(system);

        public override int Identifier => KvSerializer.Id;

        public override string Manifest(object o) => o is Forged f ? f.Manifest : _inner.Manifest(o);

        public override byte[] ToBinary(object obj) => obj is Forged f ? f.Payload : _inner.ToBinary(obj);

        public override object FromBinary(byte[] bytes, string manifest) => _inner.FromBinary(bytes, manifest);
    }

    [Fact]
    public async Task A_message_with_an_unknown_manifest_or_a_malformed_payload_is_dropped_with_a_log_line_and_the_association_stays_up()
    {
        using var node = StartNode(out int port);
        await node.WaitForOutput("ring v1", TimeSpan.FromSeconds(30));

        var forging = ConfigurationFactory.ParseString($$"""
            akka.actor.serializers.kv = "{{typeof(ForgingSerializer).FullName}}, {{typeof(ForgingSerializer).Assembly.GetName().Name}}"
            akka.actor.serialization-bindings { "{{typeof(Forged).FullName}}, {{typeof(Forged).Assembly.GetName().Name}}" = kv }
            """);
        var system = ActorSystem.Create("bad-peer", forging.WithFallback(KvClient.AkkaConfig(new KvClientOptions())));
        try
        {
            Assert.IsType<ForgingSerializer>(system.Serialization.FindSerializerForType(typeof(Forged)));
            Assert.IsType<ForgingSerializer>(system.Serialization.FindSerializerForType(typeof(GetClusterStatus)));
            string address = $"akka.tcp://kv@127.0.0.1:{port}";
            var admin = KvPaths.On(system, address, KvPaths.Admin);
            var ring = KvPaths.On(system, address, KvPaths.RingManager);
            var timeout = TimeSpan.FromSeconds(10);

            // The association works.
            var status = await admin.Ask<ClusterStatus>(GetClusterStatus.Instance, timeout);
            Assert.Single(status.Members);

            for (int i = 0; i < 3; i++)
            {
                // A manifest no version of the store has used.
                admin.Tell(new Forged("999", [1, 2, 3]));
                // A known manifest (230, GetClusterStatus) whose payload protobuf cannot parse.
                admin.Tell(new Forged("230", [0xFF, 0xFF, 0xFF, 0xFF]));
                // The next request on the same association is answered: only those messages were dropped.
                Assert.IsType<CurrentRing>(await ring.Ask<object>(GetRing.Instance, timeout));
                Assert.Single((await admin.Ask<ClusterStatus>(GetClusterStatus.Instance, timeout)).Members);
            }

            // Akka logs through its logger actor and the console logger's queue: the lines may trail the replies.
            string log = node.Output;
            for (var until = DateTime.UtcNow + TimeSpan.FromSeconds(15); DateTime.UtcNow < until; log = node.Output)
            {
                if (Count(log, "manifest [999]") >= 3 && Count(log, "manifest [230]") >= 3)
                    break;
                await Task.Delay(100);
            }
            output.WriteLine(log);
            Assert.False(node.Process.HasExited);
            Assert.True(Count(log, "Deserialization failed for message with serializer id [4200] and manifest [999]") >= 3, "unknown manifest not logged three times:\n" + log);
            Assert.Contains("unknown manifest '999'", log, StringComparison.Ordinal);
            Assert.True(Count(log, "Deserialization failed for message with serializer id [4200] and manifest [230]") >= 3, "malformed payload not logged three times:\n" + log);
            Assert.Contains("malformed GetClusterStatus (manifest 230, 4 bytes)", log, StringComparison.Ordinal);
            Assert.Contains("association remains live", log, StringComparison.Ordinal);
            Assert.DoesNotContain("uarantin", log, StringComparison.Ordinal);

            // The node serves clients as before.
            await using var client = await KvClient.ConnectAsync(ClientOptions(port));
            await client.PutAsync("default", "k", "v");
            Assert.Equal("v", (await client.GetAsync("default", "k")).Value.AsString());
        }
        finally
        {
            await system.Terminate();
        }

        node.Signal(15);
        Assert.Equal(0, await node.WaitForExit(TimeSpan.FromSeconds(30)));
    }
}
