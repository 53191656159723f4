using Kv.Storage.Iterators;
using Kv.Storage.Util;

namespace Kv.Storage.Table;

/// <summary>Cursor over one block's prefix-compressed entries, ordered by internal key.</summary>
internal sealed class BlockIterator : IInternalIterator
{
    private readonly Block _block;
    private byte[] _key = new byte[64];
    private int _keyLength;
    private int _current;
    private int _next;
    private int _valueStart;
    private int _valueLength;
    private bool _valid;

    public BlockIterator(Block block) => _block = block;

    public bool Valid => _valid;

    public ReadOnlySpan<byte> Key => _key.AsSpan(0, _keyLength);

    public ReadOnlySpan<byte> Value => _block.Data.AsSpan(_valueStart, _valueLength);

    /// <summary>The value as memory over the block's bytes (a verified block is never changed).</summary>
    public ReadOnlyMemory<byte> ValueMemory => _block.Data.AsMemory(_valueStart, _valueLength);

    public void SeekToFirst()
    {
        _next = _block.RestartPoint(0);
        _keyLength = 0;
        ParseNext();
    }

    public void Seek(ReadOnlySpan<byte> target)
    {
        // Binary search the restart points for the last one whose key is < target.
        int left = 0;
        int right = _block.RestartCount - 1;
        while (left < right)
        {
            int mid = (left + right + 1) / 2;
            int offset = _block.RestartPoint(mid);
            ReadOnlySpan<byte> midKey = KeyAtRestart(offset);
            if (InternalKey.Compare(midKey, target) < 0)
            {
                left = mid;
            }
            else
            {
                right = mid - 1;
            }
        }
        _next = _block.RestartPoint(left);
        _keyLength = 0;
        while (ParseNext())
        {
            if (InternalKey.Compare(Key, target) >= 0)
            {
                return;
            }
        }
    }

    public void Next() => ParseNext();

    /// <summary>Linear scan by raw bytes, for the metaindex block whose keys are names.</summary>
    public bool SeekExact(ReadOnlySpan<byte> name)
    {
        SeekToFirst();
        while (_valid)
        {
            if (Key.SequenceEqual(name))
            {
                return true;
            }
            Next();
        }
        return false;
    }

    private ReadOnlySpan<byte> KeyAtRestart(int offset)
    {
        ReadOnlySpan<byte> data = _block.Data.AsSpan(0, _block.RestartOffset);
        int pos = offset;
        if (!Coding.TryGetVarint32(data, ref pos, out uint shared)
            || !Coding.TryGetVarint32(data, ref pos, out uint unshared)
            || !Coding.TryGetVarint32(data, ref pos, out uint _)
            || shared != 0 || unshared > (uint)(data.Length - pos) || unshared < InternalKey.TagSize)
        {
            throw _block.Corrupt($"bad entry at restart offset {offset}");
        }
        return data.Slice(pos, (int)unshared);
    }

    private bool ParseNext()
    {
        ReadOnlySpan<byte> data = _block.Data.AsSpan(0, _block.RestartOffset);
        _current = _next;
        if (_current >= data.Length)
        {
            _valid = false;
            return false;
        }
        int pos = _current;
        if (!Coding.TryGetVarint32(data, ref pos, out uint shared)
            || !Coding.TryGetVarint32(data, ref pos, out uint unshared)
            || !Coding.TryGetVarint32(data, ref pos, out uint valueLength)
            || shared > (uint)_keyLength
            || (ulong)unshared + valueLength > (ulong)(data.Length - pos))
        {
            _valid = false;
            throw _block.Corrupt($"bad entry at block offset {_current}");
        }
        int keyLength = (int)(shared + unshared);
        if (_key.Length < keyLength)
        {
            Array.Resize(ref _key, Math.Max(keyLength, _key.Length * 2));
        }
        data.Slice(pos, (int)unshared).CopyTo(_key.AsSpan((int)shared));
        _keyLength = keyLength;
        pos += (int)unshared;
        _valueStart = pos;
        _valueLength = (int)valueLength;
        _next = pos + (int)valueLength;
        _valid = true;
        return true;
    }

    public void Dispose()
    {
    }
}
