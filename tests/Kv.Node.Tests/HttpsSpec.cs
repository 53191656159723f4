using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>kv.http.tls: the HTTP API over HTTPS with the node's certificate (kv.remote.secure.certificate-path), and its configuration checks.</summary>
[Collection("processes")]
public sealed class HttpsSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-https-").FullName;

    [Fact]
    public void Tls_without_a_certificate_is_a_configuration_error()
    {
        var e = Assert.Throws<ConfigException>(() => NodeSettings.Load(NodeArguments.Parse(["--data-dir", _dir, "--kv.http.tls=on"])));
        Assert.Contains("certificate-path", e.Message, StringComparison.Ordinal);
        Assert.Null(NodeSettings.Load(NodeArguments.Parse(["--data-dir", _dir])).Http.Tls);
    }

    [Fact]
    public async Task The_api_answers_over_https_with_the_nodes_certificate_and_not_in_plain_http()
    {
        // A self-signed certificate for 127.0.0.1 (ECDSA: quick to make).
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        string pfx = Path.Combine(_dir, "node.pfx");
        await File.WriteAllBytesAsync(pfx, cert.Export(X509ContentType.Pkcs12, "secret"));

        int httpPort = Processes.FreePort();
        using var node = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir,
            "--data-dir", Path.Combine(_dir, "data"), "--port", Processes.FreePort().ToString(CultureInfo.InvariantCulture), "--kv.ring-size=8",
            $"--kv.http.port={httpPort}", "--kv.http.tls=on", $"--kv.remote.secure.certificate-path={pfx}", "--kv.remote.secure.certificate-password=secret");
        await node.WaitForOutput("HTTPS on", TimeSpan.FromSeconds(40));

        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == cert.GetCertHashString(),
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(10) };
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await https.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < end, "not ready over HTTPS; output:\n" + node.Output);
            await Task.Delay(200);
        }
        var put = await https.PutAsync("/ns/default/keys/tls", new StringContent("secret value", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        Assert.Equal("secret value", await https.GetStringAsync("/ns/default/keys/tls"));

        using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(10) };
        var refused = await Record.ExceptionAsync(async () =>
        {
            using var r = await plain.GetAsync("/health/live");
            Assert.NotEqual(HttpStatusCode.OK, r.StatusCode);
        });
        output.WriteLine($"plain HTTP to the TLS port: {refused?.GetType().Name ?? "a non-200 answer"}");
        Assert.False(node.Process.HasExited);
    }

    [Fact]
    public async Task A_certificate_that_cannot_be_loaded_stops_the_node_at_start_naming_it()
    {
        string missing = Path.Combine(_dir, "missing.pfx");
        using var node = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir,
            "--data-dir", Path.Combine(_dir, "data2"), "--port", Processes.FreePort().ToString(CultureInfo.InvariantCulture), "--kv.ring-size=8",
            $"--kv.http.port={Processes.FreePort()}", "--kv.http.tls=on", $"--kv.remote.secure.certificate-path={missing}");
        Assert.Equal(3, await node.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Contains(missing, node.Output, StringComparison.Ordinal);
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
}
