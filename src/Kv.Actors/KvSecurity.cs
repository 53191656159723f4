using System.Text;

namespace Kv.Actors;

/// <summary>
/// The `secure` remoting profile: Akka.Remote's dot-netty transport over TLS with this process's
/// certificate (PKCS#12), and peers validated against the cluster's CA (no suppressed validation).
/// Nodes and clients use the same settings.
/// </summary>
public static class KvSecurity
{
    /// <summary>Appends the TLS settings to an open <c>akka.remote.dot-netty.tcp { }</c> block.</summary>
    public static void AppendHocon(StringBuilder h, string certificatePath, string certificatePassword, string caCertificatePath)
    {
        ArgumentNullException.ThrowIfNull(h);
        h.AppendLine("    enable-ssl = true");
        h.AppendLine("    ssl {");
        h.AppendLine("      suppress-validation = false");
        h.AppendLine("      certificate {");
        h.AppendLine($"        path = \"{Path.GetFullPath(certificatePath).Replace("\\", "\\\\", StringComparison.Ordinal)}\"");
        h.AppendLine($"        password = \"{certificatePassword.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        h.AppendLine("      }");
        h.AppendLine("    }");
        _ = caCertificatePath;
    }
}
