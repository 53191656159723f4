namespace Kv.Storage.Util;

/// <summary>
/// The user key a pass over internal keys in order (flush, compaction) is on: tells when an entry
/// starts another user key, so that the pass knows which versions are the newest of their key.
/// </summary>
internal sealed class CurrentUserKey
{
    private byte[] _key = new byte[64];
    private int _length = -1;

    /// <summary>True, and the key becomes the current one, if it differs from the current one (or none was seen yet).</summary>
    public bool Advance(ReadOnlySpan<byte> userKey)
    {
        if (_length >= 0 && userKey.SequenceEqual(_key.AsSpan(0, _length)))
        {
            return false;
        }
        if (_key.Length < userKey.Length)
        {
            _key = new byte[userKey.Length * 2];
        }
        userKey.CopyTo(_key);
        _length = userKey.Length;
        return true;
    }
}
