using System.Buffers.Binary;
using System.IO.Hashing;

namespace Kv.Actors.Scans;

/// <summary>
/// A scan's continuation token: opaque to clients, URL-safe base64 of a version byte, the
/// namespace, a fingerprint of the range (prefix or bounds), the last key of the page, and a
/// checksum over all of it. A page after the token starts after that key. A token that is not one
/// (garbled, cut short), or made by a scan of another namespace or range, is refused with a message
/// saying which.
/// </summary>
public static class ScanToken
{
    private const byte Version = 1;

    /// <summary>The token of the page after <paramref name="lastKey"/>.</summary>
    public static string Encode(byte[] ns, ScanRange range, byte[] lastKey)
    {
        var body = new byte[1 + 1 + ns.Length + 8 + 4 + lastKey.Length + 4];
        int at = 0;
        body[at++] = Version;
        body[at++] = (byte)ns.Length;
        ns.CopyTo(body, at);
        at += ns.Length;
        BinaryPrimitives.WriteUInt64BigEndian(body.AsSpan(at), Fingerprint(range));
        at += 8;
        BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(at), lastKey.Length);
        at += 4;
        lastKey.CopyTo(body, at);
        at += lastKey.Length;
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(at), XxHash32.HashToUInt32(body.AsSpan(0, at)));
        return Convert.ToBase64String(body).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>
    /// The last key of the page <paramref name="token"/> follows, for a scan of <paramref name="ns"/>
    /// over <paramref name="range"/>; a <see cref="FormatException"/> saying what is wrong otherwise.
    /// </summary>
    public static byte[] Decode(string token, byte[] ns, ScanRange range)
    {
        byte[] body;
        try
        {
            string b64 = token.Replace('-', '+').Replace('_', '/');
            body = Convert.FromBase64String(b64 + new string('=', (4 - b64.Length % 4) % 4));
        }
        catch (FormatException)
        {
            throw new FormatException("bad continuation token: not a token this store made (not base64)");
        }
        if (body.Length < 1 + 1 + 8 + 4 + 4 || body[0] != Version)
            throw new FormatException(body.Length > 0 && body[0] != Version
                ? $"bad continuation token: version {body[0]} (this node reads version {Version})"
                : "bad continuation token: too short");
        if (XxHash32.HashToUInt32(body.AsSpan(0, body.Length - 4)) != BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(body.Length - 4)))
            throw new FormatException("bad continuation token: damaged (checksum does not match)");
        int at = 1;
        int nsLength = body[at++];
        if (at + nsLength + 12 > body.Length - 4)
            throw new FormatException("bad continuation token: too short");
        var tokenNs = body.AsSpan(at, nsLength);
        at += nsLength;
        if (!tokenNs.SequenceEqual(ns))
            throw new FormatException($"bad continuation token: it continues a scan of namespace '{System.Text.Encoding.UTF8.GetString(tokenNs)}', not '{System.Text.Encoding.UTF8.GetString(ns)}'");
        if (BinaryPrimitives.ReadUInt64BigEndian(body.AsSpan(at)) != Fingerprint(range))
            throw new FormatException("bad continuation token: it continues a scan with another prefix or other bounds (pass the same ones as for the first page)");
        at += 8;
        int keyLength = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(at));
        at += 4;
        if (keyLength < 1 || at + keyLength != body.Length - 4)
            throw new FormatException("bad continuation token: its key is malformed");
        return body.AsSpan(at, keyLength).ToArray();
    }

    private static ulong Fingerprint(ScanRange range)
    {
        var hash = new XxHash64();
        Span<byte> length = stackalloc byte[5];
        foreach (var (tag, bound) in new[] { ((byte)1, range.Prefix), ((byte)2, range.Start), ((byte)3, range.End) })
        {
            length[0] = tag;
            BinaryPrimitives.WriteInt32BigEndian(length[1..], bound?.Length ?? -1);
            hash.Append(length);
            if (bound is not null)
                hash.Append(bound);
        }
        return hash.GetCurrentHashAsUInt64();
    }
}
