using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Kv.Actors;

/// <summary>
/// The `secure` remoting profile: Akka.Remote's dot-netty transport over mutual TLS. Every node and
/// client presents a certificate (PKCS#12) signed by the cluster's CA; each side accepts a peer
/// only if its certificate chains to that CA alone (not to the machine's trust store) and allows
/// both server and client authentication. Nothing is suppressed. Addresses read akka.ssl.tcp://.
/// </summary>
public static class KvSecurity
{
    /// <summary>TLS web server authentication.</summary>
    public static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <summary>TLS web client authentication.</summary>
    public static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    /// <summary>Turns TLS on in an open <c>akka.remote.dot-netty.tcp { }</c> block (the certificate and validator come from <see cref="SslSetup"/>).</summary>
    public static void AppendHocon(StringBuilder h)
    {
        ArgumentNullException.ThrowIfNull(h);
        h.AppendLine("    enable-ssl = true");
        h.AppendLine("    ssl {");
        h.AppendLine("      suppress-validation = false");
        h.AppendLine("      require-mutual-authentication = true");
        h.AppendLine("    }");
    }

    /// <summary>
    /// The actor system setup of the secure profile: this process's certificate and a validator that
    /// accepts only peers whose certificate chains to the CA at <paramref name="caCertificatePath"/>.
    /// Throws <see cref="ArgumentException"/> naming the file when a certificate cannot be read.
    /// </summary>
    public static DotNettySslSetup SslSetup(string certificatePath, string certificatePassword, string caCertificatePath)
    {
        X509Certificate2 own, ca;
        try
        {
            own = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, certificatePassword);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"cannot read the certificate {certificatePath}: {e.Message}", e);
        }
        if (!own.HasPrivateKey)
            throw new ArgumentException($"the certificate {certificatePath} has no private key");
        try
        {
            string text = File.ReadAllText(caCertificatePath);
            ca = text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificateFromFile(caCertificatePath);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"cannot read the CA certificate {caCertificatePath}: {e.Message}", e);
        }
        if (!ChainsTo(own, ca, [ServerAuth, ClientAuth], out string why))
            throw new ArgumentException($"the certificate {certificatePath} does not fit the cluster CA {caCertificatePath}: {why}");
        CertificateValidationCallback validator = (peer, _, remote, _, log) =>
        {
            if (peer is null)
            {
                log.Warning("TLS: {0} presented no certificate; refused", remote);
                return false;
            }
            using var cert = new X509Certificate2(peer);
            if (ChainsTo(cert, ca, [ServerAuth, ClientAuth], out string error))
                return true;
            log.Warning("TLS: {0} refused: {1}", remote, error);
            return false;
        };
        return new DotNettySslSetup(own, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, customValidator: validator);
    }

    /// <summary>
    /// Whether <paramref name="leaf"/> chains to <paramref name="ca"/> alone (no system roots, no
    /// downloads, no revocation check) and carries every usage in <paramref name="requiredUsages"/>.
    /// </summary>
    public static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 ca, IReadOnlyCollection<Oid> requiredUsages, out string error)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentNullException.ThrowIfNull(requiredUsages);
        // Checked by hand (and first, for a clear message): the chain engine treats a certificate without
        // any EKU extension as valid for every usage.
        var eku = leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        var missing = requiredUsages
            .Where(u => eku is null || !eku.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == u.Value))
            .Select(u => u.FriendlyName ?? u.Value)
            .ToList();
        if (missing.Count > 0)
        {
            error = $"certificate {leaf.Subject} lacks extended key usage {string.Join(", ", missing)}";
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        foreach (var usage in requiredUsages)
            chain.ChainPolicy.ApplicationPolicy.Add(usage);
        if (!chain.Build(leaf))
        {
            var problems = chain.ChainStatus
                .Where(s => s.Status != X509ChainStatusFlags.NoError)
                .Select(s => $"{s.Status}: {s.StatusInformation.Trim()}")
                .Distinct(StringComparer.Ordinal)
                .ToList();
            error = $"certificate {leaf.Subject} does not chain to {ca.Subject}: "
                + (problems.Count > 0 ? string.Join("; ", problems) : "chain could not be built");
            return false;
        }
        var root = chain.ChainElements[^1].Certificate;
        if (!root.RawDataMemory.Span.SequenceEqual(ca.RawDataMemory.Span))
        {
            error = $"certificate {leaf.Subject} chains to {root.Subject}, not to the given CA {ca.Subject}";
            return false;
        }
        error = "";
        return true;
    }
}
