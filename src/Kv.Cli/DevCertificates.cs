using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Kv.Cli;

/// <summary>
/// A development certificate authority and the certificates it signs, for the `secure` remoting
/// profile (mutual TLS): every node both accepts and dials, so each leaf carries serverAuth and
/// clientAuth. BCL only (CertificateRequest); RSA 2048 throughout, which SslStream on Linux
/// (OpenSSL) accepts as server and as client certificate. `kv dev certs` writes them; tests and
/// benchmarks call the methods directly.
/// </summary>
public static class DevCertificates
{
    public const string CaSubject = "CN=Kv dev CA";
    public const string DefaultPassword = "kv-dev";
    public const string ClientName = "kv-client";

    public static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");
    public static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    /// <summary>A self-signed CA (with its private key), valid from a day ago for <paramref name="days"/> days.</summary>
    public static X509Certificate2 CreateCa(int days = 365, string subject = CaSubject)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(days, 1);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(days));
    }

    /// <summary>
    /// A leaf certificate (with its private key) for <paramref name="commonName"/>, signed by
    /// <paramref name="ca"/> (which must have its private key): SAN DNS localhost and
    /// <paramref name="commonName"/>, IP 127.0.0.1 and ::1; EKU serverAuth and clientAuth; key usage
    /// DigitalSignature|KeyEncipherment. It never outlives the CA.
    /// </summary>
    public static X509Certificate2 IssueLeaf(X509Certificate2 ca, string commonName, int days = 365)
    {
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentException.ThrowIfNullOrWhiteSpace(commonName);
        ArgumentOutOfRangeException.ThrowIfLessThan(days, 1);
        if (!ca.HasPrivateKey)
            throw new ArgumentException("the CA certificate has no private key (load ca.pfx, not ca.pem)", nameof(ca));
        using var key = RSA.Create(2048);
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(commonName);
        var request = new CertificateRequest(name.Build(), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], critical: false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        if (!string.Equals(commonName, "localhost", StringComparison.OrdinalIgnoreCase) && Uri.CheckHostName(commonName) == UriHostNameType.Dns)
            san.AddDnsName(commonName);
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = DateTimeOffset.UtcNow;
        var notAfter = now.AddDays(days);
        if (notAfter > ca.NotAfter)
            notAfter = ca.NotAfter;
        var notBefore = now.AddMinutes(-5) < ca.NotBefore ? (DateTimeOffset)ca.NotBefore : now.AddMinutes(-5);
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        serial[0] |= 0x01; // and not shortened by a leading zero
        using var signed = request.Create(ca, notBefore, notAfter, serial);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>PKCS#12 bytes: <paramref name="leaf"/> with its key, then the CA certificate (without its key).</summary>
    public static byte[] ExportPfx(X509Certificate2 leaf, X509Certificate2? ca, string password)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        var collection = new X509Certificate2Collection { leaf };
        X509Certificate2? publicCa = null;
        try
        {
            if (ca is not null)
            {
                publicCa = X509CertificateLoader.LoadCertificate(ca.RawData);
                collection.Add(publicCa);
            }
            return collection.Export(X509ContentType.Pkcs12, password)
                ?? throw new CryptographicException("PKCS#12 export produced nothing");
        }
        finally
        {
            publicCa?.Dispose();
        }
    }

    /// <summary>The certificate with its private key from a PKCS#12 file (node1.pfx, client.pfx, ca.pfx).</summary>
    public static X509Certificate2 LoadPfx(string path, string password) =>
        X509CertificateLoader.LoadPkcs12FromFile(path, password);

    /// <summary>A certificate from a PEM file (ca.pem).</summary>
    public static X509Certificate2 LoadPem(string path) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(path));

    /// <summary>The files <see cref="WriteAll"/> writes for <paramref name="nodes"/> nodes.</summary>
    public static IReadOnlyList<string> FileNames(int nodes) =>
        ["ca.pem", "ca.pfx", .. Enumerable.Range(1, nodes).Select(i => $"node{i.ToString(CultureInfo.InvariantCulture)}.pfx"), "client.pfx", "README.txt"];

    /// <summary>
    /// Writes a new CA and its certificates into <paramref name="dir"/>: ca.pem, ca.pfx,
    /// node1..N.pfx, client.pfx, README.txt (see <see cref="FileNames"/>). Without
    /// <paramref name="force"/> nothing is written if any of those files exists (IOException naming
    /// them). Each file is written to a temporary name (0600 on Unix for the .pfx files), flushed to
    /// disk and renamed into place. Returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> WriteAll(string dir, int nodes, string password, int days = 365, bool force = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodes, 1);
        ArgumentException.ThrowIfNullOrEmpty(password);
        Directory.CreateDirectory(dir);
        var names = FileNames(nodes);
        if (!force)
        {
            var existing = names.Where(n => File.Exists(Path.Combine(dir, n))).ToList();
            if (existing.Count > 0)
                throw new IOException($"{dir} already has {string.Join(", ", existing)}; pass --force to replace them (this makes a new CA: certificates from the old one stop chaining)");
        }
        using var ca = CreateCa(days);
        var written = new List<string>();
        void Write(string file, byte[] bytes, bool secret)
        {
            string path = Path.Combine(dir, file);
            WriteDurably(path, bytes, secret);
            written.Add(path);
        }
        Write("ca.pem", Encoding.ASCII.GetBytes(ca.ExportCertificatePem() + "\n"), secret: false);
        Write("ca.pfx", ExportPfx(ca, null, password), secret: true);
        for (int i = 1; i <= nodes; i++)
        {
            string cn = "node" + i.ToString(CultureInfo.InvariantCulture);
            using var leaf = IssueLeaf(ca, cn, days);
            Write(cn + ".pfx", ExportPfx(leaf, ca, password), secret: true);
        }
        using (var client = IssueLeaf(ca, ClientName, days))
            Write("client.pfx", ExportPfx(client, ca, password), secret: true);
        Write("README.txt", Encoding.UTF8.GetBytes(Readme(nodes, password, ca)), secret: false);
        return written;
    }

    private static string Readme(int nodes, string password, X509Certificate2 ca)
    {
        var s = new StringBuilder();
        s.AppendLine("Kv development certificates, made by `kv dev certs`. FOR LOCAL DEVELOPMENT ONLY.");
        s.AppendLine();
        s.AppendLine("ca.pem       the CA certificate (PEM, no key): what every node and client trusts");
        s.AppendLine("ca.pfx       the CA certificate and its private key (PKCS#12), to issue more certificates");
        s.AppendLine(CultureInfo.InvariantCulture, $"node1.pfx .. node{nodes}.pfx");
        s.AppendLine("             one per node: CN=nodeN, key, and the CA certificate (PKCS#12)");
        s.AppendLine("client.pfx   for Kv.Client and the kv command: CN=kv-client, key, and the CA certificate (PKCS#12)");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Password of every .pfx file: {password}");
        s.AppendLine();
        s.AppendLine("Keys: RSA 2048. Node and client certificates: SAN DNS localhost, IP 127.0.0.1 and ::1;");
        s.AppendLine("extended key usage serverAuth and clientAuth (each node both accepts and dials).");
        s.AppendLine(CultureInfo.InvariantCulture, $"CA: {ca.Subject}, SHA-256 thumbprint {ca.GetCertHashString(HashAlgorithmName.SHA256)}, valid until {ca.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC.");
        s.AppendLine("Peers are checked against ca.pem only (custom root trust), not the machine's trust store.");
        return s.ToString();
    }

    private static void WriteDurably(string path, byte[] bytes, bool secret)
    {
        string tmp = path + ".tmp";
        File.Delete(tmp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        using (var f = new FileStream(tmp, options))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// True when <paramref name="leaf"/> chains to <paramref name="ca"/> alone (custom root trust:
    /// the machine's trust store plays no part; no revocation check), is valid now, and carries the
    /// serverAuth and clientAuth extended key usages (a Kv node both accepts and dials). Otherwise
    /// false with <paramref name="error"/> saying why. For a TLS RemoteCertificateValidationCallback:
    /// ignore SslPolicyErrors.RemoteCertificateChainErrors (the CA is not in the machine's store)
    /// and ask this instead (and still refuse RemoteCertificateNotAvailable).
    /// </summary>
    public static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 ca, out string error) =>
        ChainsTo(leaf, ca, [ServerAuth, ClientAuth], out error);

    /// <summary>As <see cref="ChainsTo(X509Certificate2, X509Certificate2, out string)"/>, with the extended key usages to require.</summary>
    public static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 ca, IReadOnlyCollection<Oid> requiredUsages, out string error) =>
        Kv.Actors.KvSecurity.ChainsTo(leaf, ca, requiredUsages, out error);
}
