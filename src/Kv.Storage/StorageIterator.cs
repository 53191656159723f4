using Kv.Storage.Iterators;

namespace Kv.Storage;

/// <summary>
/// A forward cursor over user keys as of a sequence number (a snapshot), optionally bounded to
/// [LowerBound, UpperBound). Shows the newest visible version of each key and hides deleted keys.
/// <see cref="Key"/> and <see cref="Value"/> are valid until the cursor moves. Not thread-safe.
/// </summary>
public sealed class StorageIterator : IDisposable
{
    private readonly IInternalIterator _iter;
    private readonly ulong _sequence;
    private readonly byte[]? _lower;
    private readonly byte[]? _upper;
    private readonly Action _release;
    private byte[] _skip = new byte[64];
    private int _skipLength;
    private bool _valid;
    private bool _disposed;

    internal StorageIterator(IInternalIterator iter, ulong sequence, byte[]? lower, byte[]? upper, Action release)
    {
        _iter = iter;
        _sequence = sequence;
        _lower = lower;
        _upper = upper;
        _release = release;
    }

    public bool Valid => _valid;

    public ReadOnlySpan<byte> Key
    {
        get
        {
            ThrowIfInvalid();
            return InternalKey.UserKey(_iter.Key);
        }
    }

    public ReadOnlySpan<byte> Value
    {
        get
        {
            ThrowIfInvalid();
            return _iter.Value;
        }
    }

    /// <summary>Positions at the first key (at the lower bound, if any).</summary>
    public void SeekToFirst()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_lower is not null)
        {
            Seek(_lower);
            return;
        }
        _iter.SeekToFirst();
        FindNextUserEntry(skipping: false);
    }

    /// <summary>Positions at the first key >= <paramref name="key"/> (and >= the lower bound).</summary>
    public void Seek(ReadOnlySpan<byte> key)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_lower is not null && key.SequenceCompareTo(_lower) < 0)
        {
            key = _lower;
        }
        _iter.Seek(InternalKey.ForSeek(key, _sequence));
        FindNextUserEntry(skipping: false);
    }

    public void Next()
    {
        ThrowIfInvalid();
        SaveSkip(InternalKey.UserKey(_iter.Key));
        _iter.Next();
        FindNextUserEntry(skipping: true);
    }

    private void FindNextUserEntry(bool skipping)
    {
        while (_iter.Valid)
        {
            ReadOnlySpan<byte> key = _iter.Key;
            ulong tag = InternalKey.TagOf(key);
            if (tag >> 8 <= _sequence)
            {
                ReadOnlySpan<byte> userKey = InternalKey.UserKey(key);
                if (_upper is not null && userKey.SequenceCompareTo(_upper) >= 0)
                {
                    break;
                }
                if (skipping && userKey.SequenceCompareTo(_skip.AsSpan(0, _skipLength)) <= 0)
                {
                    // An older version of a key already shown or deleted.
                }
                else if ((EntryType)(byte)tag == EntryType.Deletion)
                {
                    SaveSkip(userKey);
                    skipping = true;
                }
                else
                {
                    _valid = true;
                    return;
                }
            }
            _iter.Next();
        }
        _valid = false;
    }

    private void SaveSkip(ReadOnlySpan<byte> userKey)
    {
        if (_skip.Length < userKey.Length)
        {
            _skip = new byte[Math.Max(userKey.Length, _skip.Length * 2)];
        }
        userKey.CopyTo(_skip);
        _skipLength = userKey.Length;
    }

    private void ThrowIfInvalid()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_valid)
        {
            throw new InvalidOperationException("the iterator is not positioned on an entry");
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _valid = false;
        _iter.Dispose();
        _release();
    }
}
