using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Kv.Actors.Security;

/// <summary>
/// A login token: "payload.signature", both base64url; payload = user, password stamp
/// (<see cref="UserRecord.Stamp"/>) and expiry (Unix ms), signature = HMAC-SHA256 of the payload with
/// the cluster's secret. Any node checks it locally; a new password or a deleted user invalidates it.
/// </summary>
public static class LoginToken
{
    public static string Issue(byte[] secret, string user, string stamp, DateTimeOffset expires)
    {
        byte[] payload = Encoding.UTF8.GetBytes(string.Join('\n', user, stamp, expires.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)));
        return Base64Url(payload) + "." + Base64Url(HMACSHA256.HashData(secret, payload));
    }

    /// <summary>The token's user, stamp and expiry when its signature is right; false when it is malformed or forged (expiry not checked here).</summary>
    public static bool TryRead(byte[] secret, string token, out string user, out string stamp, out DateTimeOffset expires)
    {
        (user, stamp, expires) = ("", "", default);
        if (token.Length > 4096)
            return false;
        int dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
            return false;
        byte[] payload, signature;
        try
        {
            payload = FromBase64Url(token[..dot]);
            signature = FromBase64Url(token[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return false;
        }
        if (!CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(secret, payload), signature))
            return false;
        string[] parts = Encoding.UTF8.GetString(payload).Split('\n');
        if (parts.Length != 3 || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long ms))
            return false;
        (user, stamp, expires) = (parts[0], parts[1], DateTimeOffset.FromUnixTimeMilliseconds(ms));
        return true;
    }

    private static string Base64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string s)
    {
        string b = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(b + new string('=', (4 - b.Length % 4) % 4));
    }
}
