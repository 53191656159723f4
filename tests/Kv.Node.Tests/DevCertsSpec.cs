using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kv.Cli;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>
/// `kv dev certs`: the files it writes load with the password, chain to ca.pem alone (and a
/// certificate from another CA does not), carry both extended key usages and the loopback SANs;
/// it refuses to overwrite without --force; and a real mutual-TLS handshake over loopback
/// succeeds with node1.pfx and client.pfx and fails for a client certificate from another CA.
/// </summary>
public sealed class DevCertsSpec(DevCertsSpec.Shared shared, ITestOutputHelper output) : IDisposable, IClassFixture<DevCertsSpec.Shared>
{
    private const string Password = "test-pw";
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-certs-").FullName;

    /// <summary>
    /// RSA key generation is most of these tests' time, so they share one `kv dev certs --nodes 2`
    /// run (read only) and one foreign CA with a leaf; the overwrite test makes its own.
    /// </summary>
    public sealed class Shared : IDisposable
    {
        public Shared()
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = Cli.Program.Run(["dev", "certs", "--dir", Dir, "--nodes", "2", "--password", Password], new StringReader(""), stdout, stderr);
            Assert.True(code == 0, $"{stdout}{stderr}");
            OtherCa = DevCertificates.CreateCa(days: 1);
            Stranger = DevCertificates.IssueLeaf(OtherCa, "kv-client", days: 1);
        }

        public string Dir { get; } = Path.Combine(Directory.CreateTempSubdirectory("kv-certs-").FullName, "certs");

        public X509Certificate2 OtherCa { get; }

        public X509Certificate2 Stranger { get; }

        public void Dispose()
        {
            OtherCa.Dispose();
            Stranger.Dispose();
            try
            {
                Directory.Delete(Path.GetDirectoryName(Dir)!, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }

    private (int Code, string Out, string Err) Kv(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Program.Run(args, new StringReader(""), stdout, stderr);
        output.WriteLine($"kv {string.Join(' ', args)} -> {code}\n{stdout}{stderr}");
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Certs => Path.Combine(_dir, "certs");

    private void MakeCerts(int nodes = 1)
    {
        var r = Kv("dev", "certs", "--dir", Certs, "--nodes", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--password", Password);
        Assert.True(r.Code == 0, r.Out + r.Err);
    }

    public void Dispose()
    {
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
    public void Writes_a_ca_and_leaves_that_chain_to_it_and_only_to_it()
    {
        string dir = shared.Dir;
        foreach (string f in new[] { "ca.pem", "ca.pfx", "node1.pfx", "node2.pfx", "client.pfx", "README.txt" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.False(File.Exists(Path.Combine(dir, "node3.pfx")));
        Assert.Contains(Password, File.ReadAllText(Path.Combine(dir, "README.txt")), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            foreach (string f in new[] { "ca.pfx", "node1.pfx", "client.pfx" })
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, f)));
        }

        using var ca = DevCertificates.LoadPem(Path.Combine(dir, "ca.pem"));
        Assert.Equal("CN=Kv dev CA", ca.Subject);
        Assert.False(ca.HasPrivateKey);
        var basic = ca.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.True(basic.CertificateAuthority);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, ca.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages);
        using (var caWithKey = DevCertificates.LoadPfx(Path.Combine(dir, "ca.pfx"), Password))
        {
            Assert.True(caWithKey.HasPrivateKey);
            Assert.Equal(ca.Thumbprint, caWithKey.Thumbprint);
        }

        using var node1 = DevCertificates.LoadPfx(Path.Combine(dir, "node1.pfx"), Password);
        Assert.True(node1.HasPrivateKey);
        Assert.Equal("CN=node1", node1.Subject);
        Assert.True(DevCertificates.ChainsTo(node1, ca, out string error), error);
        var ekus = node1.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value).ToList();
        Assert.Contains("1.3.6.1.5.5.7.3.1", ekus);
        Assert.Contains("1.3.6.1.5.5.7.3.2", ekus);
        var san = node1.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains(IPAddress.Loopback, san.EnumerateIPAddresses());
        Assert.Contains(IPAddress.IPv6Loopback, san.EnumerateIPAddresses());
        Assert.Contains("localhost", san.EnumerateDnsNames());
        Assert.True(node1.NotAfter <= ca.NotAfter);

        // The PKCS#12 file carries the chain: the leaf with its key, and the CA certificate.
        var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(Path.Combine(dir, "node1.pfx"), Password);
        Assert.Equal(2, all.Count);
        Assert.Contains(all, c => c.Thumbprint == ca.Thumbprint && !c.HasPrivateKey);
        foreach (var c in all)
            c.Dispose();
        Assert.Throws<System.Security.Cryptography.CryptographicException>(() => DevCertificates.LoadPfx(Path.Combine(dir, "node1.pfx"), "wrong"));

        using var client = DevCertificates.LoadPfx(Path.Combine(dir, "client.pfx"), Password);
        Assert.Equal("CN=kv-client", client.Subject);
        Assert.True(DevCertificates.ChainsTo(client, ca, out error), error);

        // Another CA's certificate does not chain to this CA; nor is a CA certificate a leaf.
        Assert.False(DevCertificates.ChainsTo(shared.Stranger, ca, out error));
        Assert.Contains("does not chain", error, StringComparison.Ordinal);
        Assert.True(DevCertificates.ChainsTo(shared.Stranger, shared.OtherCa, out error), error);
        Assert.False(DevCertificates.ChainsTo(shared.OtherCa, ca, out error));
        Assert.NotEqual("", error);
    }

    [Fact]
    public void A_certificate_without_both_key_usages_does_not_pass()
    {
        var ca = shared.OtherCa;
        foreach (var usages in new[] { null, new[] { DevCertificates.ServerAuth } })
        {
            using var key = System.Security.Cryptography.RSA.Create(2048);
            var request = new CertificateRequest("CN=partial", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            if (usages is not null)
                request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new System.Security.Cryptography.OidCollection { usages[0] }, critical: false));
            using var leaf = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1), [1, 2, 3, 4]);
            Assert.False(DevCertificates.ChainsTo(leaf, ca, out string error));
            Assert.Contains("Client Authentication", error, StringComparison.Ordinal);
            Assert.True(DevCertificates.ChainsTo(leaf, ca, [DevCertificates.ServerAuth], out error) == (usages is not null), error);
        }
    }

    [Fact]
    public void Refuses_to_overwrite_without_force_and_rewrites_with_it()
    {
        MakeCerts();
        var before = Directory.GetFiles(Certs).ToDictionary(f => f, File.ReadAllBytes);
        Assert.Equal(5, before.Count); // ca.pem, ca.pfx, node1.pfx, client.pfx, README.txt

        var again = Kv("dev", "certs", "--dir", Certs, "--nodes", "1", "--password", Password);
        Assert.Equal(ExitCodes.Usage, again.Code);
        Assert.Contains("--force", again.Err, StringComparison.Ordinal);
        Assert.Contains("ca.pem", again.Err, StringComparison.Ordinal);
        foreach (var (file, bytes) in before)
            Assert.Equal(bytes, File.ReadAllBytes(file));
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(Certs).Order());

        var forced = Kv("dev", "certs", "--dir", Certs, "--nodes", "1", "--password", Password, "--force");
        Assert.True(forced.Code == 0, forced.Out + forced.Err);
        Assert.NotEqual(before[Path.Combine(Certs, "ca.pem")], File.ReadAllBytes(Path.Combine(Certs, "ca.pem")));
        Assert.NotEqual(before[Path.Combine(Certs, "node1.pfx")], File.ReadAllBytes(Path.Combine(Certs, "node1.pfx")));
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(Certs).Order()); // no temporary files left
        using var ca = DevCertificates.LoadPem(Path.Combine(Certs, "ca.pem"));
        using var node1 = DevCertificates.LoadPfx(Path.Combine(Certs, "node1.pfx"), Password);
        Assert.True(DevCertificates.ChainsTo(node1, ca, out string error), error);

        // Bad options are usage errors.
        Assert.Equal(ExitCodes.Usage, Kv("dev", "certs", "--dir", Certs, "--nodes", "0").Code);
        Assert.Equal(ExitCodes.Usage, Kv("dev", "certs", "--dir", Certs, "--days", "many").Code);
        Assert.Equal(ExitCodes.Usage, Kv("dev", "certs", "--dir", Certs, "--password", "", "--force").Code);
        Assert.Equal(ExitCodes.Usage, Kv("dev", "certs", "--dir", Certs, "--bogus", "1").Code);
    }

    [Fact]
    public async Task Mutual_tls_handshake_accepts_the_dev_ca_and_rejects_another()
    {
        string dir = shared.Dir;
        using var ca = DevCertificates.LoadPem(Path.Combine(dir, "ca.pem"));
        using var node1 = DevCertificates.LoadPfx(Path.Combine(dir, "node1.pfx"), Password);
        using var client = DevCertificates.LoadPfx(Path.Combine(dir, "client.pfx"), Password);

        var (serverError, clientError, seen) = await HandshakeAsync(node1, client, ca);
        Assert.Null(serverError);
        Assert.Null(clientError);
        Assert.Equal("CN=kv-client", seen);

        (serverError, clientError, seen) = await HandshakeAsync(node1, shared.Stranger, ca);
        Assert.NotNull(serverError);
        output.WriteLine($"server: {serverError}\nclient: {clientError}");
        Assert.Null(seen);
    }

    // One TLS connection over loopback: the server presents serverCert and requires a client
    // certificate; both sides accept the peer only if it chains to ca. Returns each side's failure
    // (null: it completed the handshake and exchanged a byte) and the client subject the server saw.
    private static async Task<(string? Server, string? Client, string? Seen)> HandshakeAsync(X509Certificate2 serverCert, X509Certificate2 clientCert, X509Certificate2 ca)
    {
        bool Validate(X509Certificate? cert, SslPolicyErrors errors)
        {
            if (cert is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
                return false;
            using var peer = X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
            return DevCertificates.ChainsTo(peer, ca, out _);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            string? seen = null;
            var server = Task.Run(async () =>
            {
                using var socket = await listener.AcceptTcpClientAsync(cts.Token);
                await using var ssl = new SslStream(socket.GetStream());
                try
                {
                    await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = SslStreamCertificateContext.Create(serverCert, null, offline: true),
                        ClientCertificateRequired = true,
                        RemoteCertificateValidationCallback = (_, cert, _, errors) => Validate(cert, errors),
                    }, cts.Token);
                    seen = ssl.RemoteCertificate?.Subject;
                    var buffer = new byte[1];
                    int n = await ssl.ReadAsync(buffer, cts.Token);
                    if (n != 1)
                        return "no byte from the client";
                    await ssl.WriteAsync(buffer, cts.Token);
                    return null;
                }
                catch (Exception e) when (e is AuthenticationException or IOException)
                {
                    return e.GetType().Name + ": " + e.Message;
                }
            });
            var dialer = Task.Run(async () =>
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, port, cts.Token);
                await using var ssl = new SslStream(socket.GetStream());
                try
                {
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = "127.0.0.1",
                        ClientCertificateContext = SslStreamCertificateContext.Create(clientCert, null, offline: true),
                        RemoteCertificateValidationCallback = (_, cert, _, errors) => Validate(cert, errors),
                    }, cts.Token);
                    await ssl.WriteAsync(new byte[] { 42 }, cts.Token);
                    var buffer = new byte[1];
                    int n = await ssl.ReadAsync(buffer, cts.Token);
                    return n == 1 && buffer[0] == 42 ? null : "no echo from the server";
                }
                catch (Exception e) when (e is AuthenticationException or IOException)
                {
                    return e.GetType().Name + ": " + e.Message;
                }
            });
            var results = await Task.WhenAll(server, dialer);
            return (results[0], results[1], seen);
        }
        finally
        {
            listener.Stop();
        }
    }
}
