using System.Security.Cryptography;
using System.Text;

namespace Kv.Cluster.Remote;

/// <summary>
/// The secret check. Each side sends a fresh 16-byte nonce; each proves it knows the shared secret
/// with HMAC-SHA256(secret, label | peer's nonce | own uid). The secret itself never travels.
/// </summary>
internal static class Handshake
{
    public const uint ProtocolVersion = 1;

    private static readonly byte[] Label = Encoding.ASCII.GetBytes("kv-remote/1");

    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(16);

    public static byte[] Prove(string secret, ReadOnlySpan<byte> peerNonce, ulong ownUid)
    {
        Span<byte> input = stackalloc byte[Label.Length + peerNonce.Length + 8];
        Label.CopyTo(input);
        peerNonce.CopyTo(input[Label.Length..]);
        BitConverter.TryWriteBytes(input[(Label.Length + peerNonce.Length)..], ownUid);
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), input);
    }

    public static bool Verify(string secret, ReadOnlySpan<byte> ownNonce, ulong peerUid, ReadOnlySpan<byte> proof) =>
        CryptographicOperations.FixedTimeEquals(Prove(secret, ownNonce, peerUid), proof);
}
