using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Kv.Cluster.Actor;
using Kv.Cluster.Remote;
using Kv.Cluster.Remote.Protos;
using Kv.Cluster.TestKit;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kv.Cluster.Tests;

public sealed class RemoteBadInputSpec(ITestOutputHelper output) : TestKit.TestKit(output)
{
    private const string Secret = "test-secret";

    [Fact]
    public void Envelope_frame_bytes_match_the_documented_format()
    {
        var buffer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(buffer, FrameKind.Envelope, new RemoteEnvelope
        {
            Target = "/user/echo",
            SerializerId = 2,
            TypeId = 1,
            Payload = ByteString.CopyFromUtf8("hi"),
        });
        Assert.Equal("15000000" + "05" + "0a0a2f757365722f6563686f" + "1802" + "2001" + "2a026869", Convert.ToHexStringLower(buffer.WrittenSpan));
    }

    private static byte[] Frame(FrameKind kind, IMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(buffer, kind, message);
        return buffer.WrittenSpan.ToArray();
    }

    private static async Task<(FrameKind Kind, byte[] Body)?> ReadFrameAsync(NetworkStream stream)
    {
        var header = new byte[5];
        if (await ReadExactlyOrEof(stream, header) == false)
            return null;
        var body = new byte[BinaryPrimitives.ReadUInt32LittleEndian(header) - 1];
        if (await ReadExactlyOrEof(stream, body) == false)
            return null;
        return ((FrameKind)header[4], body);
    }

    private static async Task<bool> ReadExactlyOrEof(NetworkStream stream, byte[] buffer)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            return true;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return false;
        }
    }

    /// <summary>Dials like a real system would and completes the handshake.</summary>
    private static async Task<TcpClient> HandshakenClientAsync(ActorSystem target)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", target.Address.Port!.Value);
        var stream = client.GetStream();
        var nonce = RandomNumberGenerator.GetBytes(16);
        ulong uid = (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        await stream.WriteAsync(Frame(FrameKind.Hello, new Hello
        {
            ProtocolVersion = 1,
            From = new AddressData { System = "Fuzzer", Host = "127.0.0.1", Port = 1 },
            Uid = uid,
            Nonce = ByteString.CopyFrom(nonce),
            ToSystem = target.Name,
        }));
        var ack = await ReadFrameAsync(stream) ?? throw new IOException("no HelloAck");
        Assert.Equal(FrameKind.HelloAck, ack.Kind);
        var helloAck = HelloAck.Parser.ParseFrom(ack.Body);
        await stream.WriteAsync(Frame(FrameKind.Proof, new Proof { Proof_ = ByteString.CopyFrom(Handshake.Prove(Secret, helloAck.Nonce.Span, uid)) }));
        return client;
    }

    private static async Task<bool> SendAndSeeCloseAsync(NetworkStream stream, byte[] data, bool shutdownSend = false)
    {
        try
        {
            await stream.WriteAsync(data);
            if (shutdownSend)
                stream.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (IOException)
        {
            return true; // closed while we were still writing
        }
        return await ClosedByServerAsync(stream);
    }

    private static async Task<bool> ClosedByServerAsync(NetworkStream stream)
    {
        var buffer = new byte[256];
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (true)
            {
                int n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0)
                    return true;
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Random_malformed_and_mutated_input_drops_only_that_connection_and_the_system_keeps_serving()
    {
        var server = CreateRemoteSystem("Server");
        using var logs = new LogCapture(server);
        server.ActorOf(Props.Create<RemoteSpec.Echo>(), "echo");
        int port = server.Address.Port!.Value;
        var rng = new Random(1234);
        int definitelyBad = 0;

        // 1. Random bytes instead of a handshake.
        for (int i = 0; i < 5; i++)
        {
            using var c = new TcpClient();
            await c.ConnectAsync("127.0.0.1", port);
            var junk = new byte[rng.Next(1, 2000)];
            rng.NextBytes(junk);
            if (junk.Length > 4)
                junk[4] = 0xEE; // never a valid kind
            Assert.True(await SendAndSeeCloseAsync(c.GetStream(), junk, shutdownSend: true));
            definitelyBad++;
        }

        // 2. A truncated handshake: a Hello header promising more than is sent, then close.
        using (var c = new TcpClient())
        {
            await c.ConnectAsync("127.0.0.1", port);
            Assert.True(await SendAndSeeCloseAsync(c.GetStream(), [100, 0, 0, 0, (byte)FrameKind.Hello, 1, 2, 3], shutdownSend: true));
            definitelyBad++;
        }

        // 3. A Hello that is not protobuf.
        using (var c = new TcpClient())
        {
            await c.ConnectAsync("127.0.0.1", port);
            Assert.True(await SendAndSeeCloseAsync(c.GetStream(), [4, 0, 0, 0, (byte)FrameKind.Hello, 0xFF, 0xFF, 0xFF]));
            definitelyBad++;
        }

        // 4. After a correct handshake: unknown type id, unknown serializer, bad target, oversized length, wrong kind, garbage body.
        var badFrames = new[]
        {
            Frame(FrameKind.Envelope, new RemoteEnvelope { Target = "/user/echo", SerializerId = 2, TypeId = 9999, Payload = ByteString.CopyFromUtf8("x") }),
            Frame(FrameKind.Envelope, new RemoteEnvelope { Target = "/user/echo", SerializerId = 77, TypeId = 1, Payload = ByteString.CopyFromUtf8("x") }),
            Frame(FrameKind.Envelope, new RemoteEnvelope { Target = "no path", SerializerId = 2, TypeId = 1, Payload = ByteString.CopyFromUtf8("x") }),
            Frame(FrameKind.Envelope, new RemoteEnvelope { Target = "/user/echo", SerializerId = 2, TypeId = 3, Payload = ByteString.CopyFromUtf8("not 8 bytes") }),
            [0xFF, 0xFF, 0xFF, 0x7F, (byte)FrameKind.Envelope],
            Frame(FrameKind.Hello, new Hello()),
            [3, 0, 0, 0, (byte)FrameKind.Envelope, 0x0A, 0x7F],
        };
        foreach (var frame in badFrames)
        {
            using var c = await HandshakenClientAsync(server);
            Assert.True(await SendAndSeeCloseAsync(c.GetStream(), frame));
            definitelyBad++;
        }

        // 5. Mutated valid frames: may be bad or (by luck) still valid; either way nothing breaks.
        var valid = Frame(FrameKind.Envelope, new RemoteEnvelope { Target = "/user/echo", SerializerId = 2, TypeId = 1, Payload = ByteString.CopyFromUtf8("hello") });
        for (int i = 0; i < 30; i++)
        {
            using var c = await HandshakenClientAsync(server);
            var mutated = (byte[])valid.Clone();
            for (int flips = rng.Next(1, 4); flips > 0; flips--)
                mutated[rng.Next(4, mutated.Length)] ^= (byte)(1 << rng.Next(8));
            var stream = c.GetStream();
            try
            {
                await stream.WriteAsync(mutated);
                await stream.WriteAsync(valid);
            }
            catch (IOException)
            {
                // the server dropped it
            }
        }

        AwaitCondition(() => server.Transport!.Stats.BadInput >= definitelyBad, TimeSpan.FromSeconds(10), $"bad input counted ({server.Transport!.Stats.BadInput} of {definitelyBad})");
        // The counter moves just before the log line is written.
        AwaitCondition(() => logs.Count(LogLevel.Warning, "dropped connection from 127.0.0.1") >= definitelyBad, TimeSpan.FromSeconds(5), "one log line per dropped connection");
        logs.Expect(LogLevel.Warning, "unknown message type: serializer 2, type id 9999");

        // A normal peer is still served.
        var client = CreateRemoteSystem("Client");
        var echo = client.ResolveActorRef(ActorPath.Parse(server.Address + "/user/echo"));
        Assert.Equal("still here", await echo.Ask<string>("still here", TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task TLS_systems_talk_to_each_other_and_refuse_plain_peers()
    {
        string dir = Directory.CreateTempSubdirectory("kv-tls-").FullName;
        try
        {
            string pfx = Path.Combine(dir, "cluster.pfx");
            using (var rsa = RSA.Create(2048))
            {
                var request = new CertificateRequest("CN=kv-test-cluster", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
                await File.WriteAllBytesAsync(pfx, cert.Export(X509ContentType.Pfx, "pw"));
            }
            var tls = TestKit.TestKit.FastRemote() with { Tls = new TlsOptions { CertificatePath = pfx, CertificatePassword = "pw" } };
            var a = CreateRemoteSystem("A", tls);
            var b = CreateRemoteSystem("B", tls);
            b.ActorOf(Props.Create<RemoteSpec.Echo>(), "echo");
            var echo = a.ResolveActorRef(ActorPath.Parse(b.Address + "/user/echo"));
            Assert.Equal("over tls", await echo.Ask<string>("over tls", TimeSpan.FromSeconds(10)));

            var plain = CreateRemoteSystem("Plain");
            using var logs = new LogCapture(b);
            var fromPlain = plain.ResolveActorRef(ActorPath.Parse(b.Address + "/user/echo"));
            await Assert.ThrowsAsync<AskTimeoutException>(() => fromPlain.Ask<string>("in clear", TimeSpan.FromSeconds(1)));
            logs.Expect(LogLevel.Warning, "dropped connection from 127.0.0.1");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
