using System.Buffers.Binary;
using Kv.Storage.Util;

namespace Kv.Storage.Table;

/// <summary>
/// Builds a block of sorted entries with prefix compression: each entry is shared u32v, unshared u32v,
/// value length u32v, key delta, value; every <c>restartInterval</c> entries the key is stored whole
/// and its offset recorded; the block ends with the restart offsets (u32 each) and their count (u32).
/// </summary>
internal sealed class BlockBuilder(int restartInterval)
{
    private readonly List<int> _restarts = [0];
    private byte[] _buffer = new byte[8192];
    private int _length;
    private int _counter;
    private byte[] _lastKey = new byte[64];
    private int _lastKeyLength;

    public int Count { get; private set; }

    public bool IsEmpty => Count == 0;

    public int CurrentSizeEstimate => _length + _restarts.Count * 4 + 4;

    public ReadOnlySpan<byte> LastKey => _lastKey.AsSpan(0, _lastKeyLength);

    public void Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        int shared = 0;
        if (_counter < restartInterval)
        {
            shared = LastKey.CommonPrefixLength(key);
        }
        else
        {
            _restarts.Add(_length);
            _counter = 0;
        }
        int unshared = key.Length - shared;
        Ensure(3 * Coding.MaxVarint32Length + unshared + value.Length);
        _length += Coding.PutVarint32(_buffer.AsSpan(_length), (uint)shared);
        _length += Coding.PutVarint32(_buffer.AsSpan(_length), (uint)unshared);
        _length += Coding.PutVarint32(_buffer.AsSpan(_length), (uint)value.Length);
        key[shared..].CopyTo(_buffer.AsSpan(_length));
        _length += unshared;
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
        if (_lastKey.Length < key.Length)
        {
            _lastKey = new byte[Math.Max(key.Length, _lastKey.Length * 2)];
        }
        key.CopyTo(_lastKey);
        _lastKeyLength = key.Length;
        _counter++;
        Count++;
    }

    /// <summary>Appends the restart array and returns the finished block contents.</summary>
    public ReadOnlySpan<byte> Finish()
    {
        Ensure(_restarts.Count * 4 + 4);
        foreach (int r in _restarts)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_length), (uint)r);
            _length += 4;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_length), (uint)_restarts.Count);
        _length += 4;
        return _buffer.AsSpan(0, _length);
    }

    public void Reset()
    {
        _restarts.Clear();
        _restarts.Add(0);
        _length = 0;
        _counter = 0;
        _lastKeyLength = 0;
        Count = 0;
    }

    private void Ensure(int extra)
    {
        if (_length + extra > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + extra));
        }
    }
}
