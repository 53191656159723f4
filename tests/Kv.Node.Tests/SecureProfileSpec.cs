using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Actor.Setup;
using Kv.Actors;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Client;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>
/// The `secure` profile (kv.remote.secure) on real processes: nodes with certificates from the
/// cluster CA form a cluster over mutual TLS (akka.ssl.tcp://) and serve a client with a
/// certificate from that CA; a client without a certificate, a client and a node with a
/// certificate from another CA (even one with the same name), and a node without TLS cannot read,
/// write or join, and the refusals are logged on both sides.
/// </summary>
[Collection("processes")]
public sealed class SecureProfileSpec(SecureProfileSpec.Certificates certs, ITestOutputHelper output) : IDisposable, IClassFixture<SecureProfileSpec.Certificates>
{
    private const string Password = "secure-spec";

    /// <summary>Two `kv dev certs` directories (RSA key generation dominates: made once for the class): the cluster's, and another CA's.</summary>
    public sealed class Certificates : IDisposable
    {
        private readonly string _root = Directory.CreateTempSubdirectory("kv-secure-certs-").FullName;

        public Certificates()
        {
            Make(Cluster, nodes: 2);
            Make(Other, nodes: 1);
        }

        private static void Make(string dir, int nodes)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = Cli.Program.Run(["dev", "certs", "--dir", dir, "--nodes", nodes.ToString(CultureInfo.InvariantCulture), "--password", Password],
                new StringReader(""), stdout, stderr);
            Assert.True(code == 0, $"{stdout}{stderr}");
        }

        /// <summary>The cluster's CA: ca.pem, node1.pfx, node2.pfx, client.pfx.</summary>
        public string Cluster => Path.Combine(_root, "cluster");

        /// <summary>Another CA with the same subject (CN=Kv dev CA) and its own node1.pfx and client.pfx.</summary>
        public string Other => Path.Combine(_root, "other");

        public void Dispose()
        {
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }

    private readonly string _dir = Directory.CreateTempSubdirectory("kv-secure-").FullName;

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

    /// <summary>A node on a free port with its own data directory; secured with certificate (in certDir) and ca unless certificate is null.</summary>
    private Processes.Running StartNode(string name, out int port, string? certDir, string? certificate, string? caDir, params string[] seeds)
    {
        port = Processes.FreePort();
        var args = new List<string> { "--port", port.ToString(CultureInfo.InvariantCulture), "--data-dir", Path.Combine(_dir, name) };
        if (certificate is not null)
        {
            args.AddRange([
                "--kv.remote.secure.enabled", "on",
                "--kv.remote.secure.certificate-path", Path.Combine(certDir!, certificate),
                "--kv.remote.secure.certificate-password", Password,
                "--kv.remote.secure.ca-certificate-path", Path.Combine(caDir!, "ca.pem"),
                // The secure profile turns authentication on: the clients below log in as the bootstrap admin.
                "--kv.security.initial-admin-password", AdminPassword,
                "--kv.security.hash-iterations", "1000",
            ]);
        }
        foreach (string seed in seeds)
            args.AddRange(["--seed", seed]);
        return new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir, [.. args]);
    }

    private static KvClientCertificate Cert(string certDir, string caDir) => new(Path.Combine(certDir, "client.pfx"), Password, Path.Combine(caDir, "ca.pem"));

    private static KvClientOptions Options(int port, KvClientCertificate? certificate) => new()
    {
        ContactPoints = [$"127.0.0.1:{port}"],
        Certificate = certificate,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        User = "admin",
        Password = AdminPassword,
    };

    private const string AdminPassword = "secure-spec-admin";

    private static async Task WaitFor(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException(what);
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task Nodes_with_certificates_from_the_cluster_ca_form_a_cluster_and_only_clients_with_one_read_and_write()
    {
        using var node1 = StartNode("node1", out int port1, certs.Cluster, "node1.pfx", certs.Cluster);
        await node1.WaitForOutput("ring v1", TimeSpan.FromSeconds(30));
        using var node2 = StartNode("node2", out int port2, certs.Cluster, "node2.pfx", certs.Cluster, $"akka.ssl.tcp://kv@127.0.0.1:{port1}");
        await node2.WaitForOutput("is Up", TimeSpan.FromSeconds(30));
        Assert.Contains($"akka.ssl.tcp://kv@127.0.0.1:{port1}", node1.Output, StringComparison.Ordinal);

        // A client with the cluster CA's client certificate: both members over TLS, reads and writes.
        await using var client = await KvClient.ConnectAsync(Options(port1, Cert(certs.Cluster, certs.Cluster)) with
        {
            ContactPoints = [$"127.0.0.1:{port1}", $"127.0.0.1:{port2}"],
            ConnectTimeout = TimeSpan.FromSeconds(15),
        });
        await WaitFor(async () =>
        {
            var s = await client.GetClusterStatusAsync();
            return s.Members.Count(m => m.Status == "Up" && m.Reachable) == 2 && s.Convergence && s.Ring?.Members.Count == 2;
        }, TimeSpan.FromSeconds(30), "two Up members on one ring");
        var status = await client.GetClusterStatusAsync();
        Assert.Equal(
            new[] { $"akka.ssl.tcp://kv@127.0.0.1:{port1}", $"akka.ssl.tcp://kv@127.0.0.1:{port2}" }.Order(),
            status.Members.Select(m => m.Address).Order());
        var written = await client.PutAsync("default", "secret", "s1");
        Assert.Equal("s1", (await client.GetAsync("default", "secret")).Value.AsString());
        await client.PutAsync("default", "secret", "s2", written.Context);
        Assert.Equal("s2", (await client.GetAsync("default", "secret")).Value.AsString());

        // A certificate from another CA, offered with the cluster's CA: the client's own check refuses it at start.
        var mismatch = await Assert.ThrowsAnyAsync<KvException>(() => KvClient.ConnectAsync(Options(port1, Cert(certs.Other, certs.Cluster))));
        Assert.Contains("does not fit the cluster CA", mismatch.Message, StringComparison.Ordinal);

        // No certificate: the nodes' TLS ports do not speak to it. A certificate from another CA with
        // that CA (same subject, other key): the nodes refuse it. (Concurrently: each waits out its connect timeout.)
        var refused = await Task.WhenAll(
            Assert.ThrowsAnyAsync<KvException>(() => KvClient.ConnectAsync(Options(port1, null))),
            Assert.ThrowsAnyAsync<KvException>(() => KvClient.ConnectAsync(Options(port2, null))),
            Assert.ThrowsAnyAsync<KvException>(() => KvClient.ConnectAsync(Options(port1, Cert(certs.Other, certs.Other)))));
        foreach (var e in refused)
            output.WriteLine("refused: " + e.Message);

        // The same stranger below the client library: an actor system with its TLS setup writing
        // straight to the node's request router. Nothing is answered or written.
        var setup = ActorSystemSetup.Create(
            BootstrapSetup.Create().WithConfig(KvClient.AkkaConfig(Options(port1, Cert(certs.Other, certs.Other)))),
            KvSecurity.SslSetup(Path.Combine(certs.Other, "client.pfx"), Password, Path.Combine(certs.Other, "ca.pem")));
        var rogue = ActorSystem.Create("rogue", setup);
        try
        {
            // (The first refused handshake makes Akka shut this system down: one try is all it gets.)
            string node = $"akka.ssl.tcp://kv@127.0.0.1:{port1}";
            var put = new KvPut(Encoding.UTF8.GetBytes("default"), Encoding.UTF8.GetBytes("rogue"), new Sibling("pwned"u8.ToArray(), "text/plain", 0, false),
                VersionVector.Empty, RequestOptions.None);
            await Assert.ThrowsAsync<AskTimeoutException>(() => KvPaths.On(rogue, node, KvPaths.Router).Ask<object>(put, TimeSpan.FromSeconds(3)));
        }
        finally
        {
            await rogue.Terminate();
        }
        Assert.False((await client.GetAsync("default", "rogue")).Found, "a client from another CA wrote a key");
        Assert.Equal("s2", (await client.GetAsync("default", "secret")).Value.AsString());

        // node1 logged each refusal: Akka's for every failed handshake, the plain client's cleartext
        // association, and the cluster CA validator's for the stranger's certificate.
        string log1 = node1.Output;
        output.WriteLine("node1:\n" + log1);
        Assert.Contains("due to TLS handshake failure", log1, StringComparison.Ordinal);
        Assert.Contains("not an SSL/TLS record", log1, StringComparison.Ordinal);
        Assert.Contains("refused: certificate CN=kv-client does not chain to CN=Kv dev CA", log1, StringComparison.Ordinal);
        Assert.False(node1.Process.HasExited);
        Assert.False(node2.Process.HasExited);

        node2.Signal(15);
        Assert.Equal(0, await node2.WaitForExit(TimeSpan.FromSeconds(60)));
        node1.Signal(15);
        Assert.Equal(0, await node1.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_node_with_a_certificate_from_another_ca_or_without_tls_cannot_join()
    {
        using var node1 = StartNode("node1", out int port1, certs.Cluster, "node1.pfx", certs.Cluster);
        await node1.WaitForOutput("ring v1", TimeSpan.FromSeconds(30));
        string seed = $"akka.ssl.tcp://kv@127.0.0.1:{port1}";
        using var stranger = StartNode("stranger", out int strangerPort, certs.Other, "node1.pfx", certs.Other, seed);
        using var plain = StartNode("plain", out int plainPort, null, null, null, $"akka.tcp://kv@127.0.0.1:{port1}");

        // Both try to join and are refused at the TLS handshake. The stranger's own validator refuses
        // node1's certificate, and Akka (1.5.75) then runs CoordinatedShutdown on the stranger (reason
        // TlsHandshakeFailureReason: a failed outbound TLS handshake stops the dialling system). The
        // plain node retries its seed every seed-node-timeout (5 s).
        // Which side's validator runs first is a race: when node1 refuses first and closes the
        // channel, the stranger only sees its handshake fail.
        await stranger.WaitForOutput("TLS", TimeSpan.FromSeconds(30));
        var strangerRefused = System.Diagnostics.Stopwatch.StartNew();
        while (!stranger.Output.Contains($"TLS: ssl.tcp://kv@127.0.0.1:{port1} refused", StringComparison.Ordinal)
            && !stranger.Output.Contains("TLS handshake failed", StringComparison.Ordinal))
        {
            Assert.True(strangerRefused.Elapsed < TimeSpan.FromSeconds(30), "the stranger's handshake with node1 neither refused nor failed:\n" + stranger.Output);
            await Task.Delay(100);
        }
        await plain.WaitForOutput("Couldn't join seed nodes after", TimeSpan.FromSeconds(40));
        output.WriteLine($"stranger exited: {stranger.Process.HasExited}");

        await using var client = await KvClient.ConnectAsync(Options(port1, Cert(certs.Cluster, certs.Cluster)) with { ConnectTimeout = TimeSpan.FromSeconds(15) });
        var status = await client.GetClusterStatusAsync();
        Assert.Equal([$"akka.ssl.tcp://kv@127.0.0.1:{port1}"], status.Members.Select(m => m.Address));
        Assert.Single(status.Ring!.Members);

        string log1 = node1.Output, logStranger = stranger.Output, logPlain = plain.Output;
        output.WriteLine($"node1:\n{log1}\nstranger:\n{logStranger}\nplain:\n{logPlain}");
        Assert.DoesNotContain(" is Up", logStranger, StringComparison.Ordinal);
        Assert.DoesNotContain(" is Up", logPlain, StringComparison.Ordinal);
        Assert.DoesNotContain($"127.0.0.1:{strangerPort}] is JOINING", log1, StringComparison.Ordinal);
        Assert.DoesNotContain($"127.0.0.1:{plainPort}] is JOINING", log1, StringComparison.Ordinal);
        // Each side of the stranger's connections refuses the other's certificate (same CA name, other key) ...
        Assert.True(logStranger.Contains($"TLS: ssl.tcp://kv@127.0.0.1:{port1} refused: certificate CN=node1 does not chain to CN=Kv dev CA", StringComparison.Ordinal)
            || logStranger.Contains("TLS handshake failed", StringComparison.Ordinal), "the stranger neither refused node1's certificate nor saw its handshake fail");
        Assert.Contains("refused: certificate CN=node1 does not chain to CN=Kv dev CA", log1, StringComparison.Ordinal);
        // ... the plain node's cleartext is no TLS record ...
        Assert.Contains("not an SSL/TLS record", log1, StringComparison.Ordinal);
        Assert.Contains($"Association failed with akka.tcp://kv@127.0.0.1:{port1}", logPlain, StringComparison.Ordinal);
        // ... and node1 rejected the connections, and is up.
        Assert.Contains("due to TLS handshake failure", log1, StringComparison.Ordinal);
        Assert.False(node1.Process.HasExited);

        node1.Signal(15);
        Assert.Equal(0, await node1.WaitForExit(TimeSpan.FromSeconds(30)));
    }
}
