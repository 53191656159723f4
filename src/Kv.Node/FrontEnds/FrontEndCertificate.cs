using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Node.FrontEnds;

/// <summary>The certificate a front end serves TLS with (the node's own, from kv.remote.secure).</summary>
public static class FrontEndCertificate
{
    /// <summary>Loads the PKCS#12 file; a missing or unreadable file stops the node at start, naming it.</summary>
    public static X509Certificate2 Load(FrontEndTls tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        try
        {
            var cert = X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath, tls.Password);
            if (!cert.HasPrivateKey)
                throw new NodeStartupException($"{tls.CertificatePath}: the certificate has no private key (a front end cannot serve TLS with it)");
            return cert;
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new NodeStartupException($"the front-end certificate {tls.CertificatePath} could not be loaded: {e.Message}");
        }
    }
}
