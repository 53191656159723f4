namespace Kv.Storage.Iterators;

/// <summary>Merges sorted children into one sorted stream with a binary min-heap.</summary>
internal sealed class MergingIterator : IInternalIterator
{
    private readonly IInternalIterator[] _children;
    private readonly int[] _heap;
    private int _size;

    public MergingIterator(IInternalIterator[] children)
    {
        _children = children;
        _heap = new int[children.Length];
    }

    public bool Valid => _size > 0;

    public ReadOnlySpan<byte> Key => _children[_heap[0]].Key;

    public ReadOnlySpan<byte> Value => _children[_heap[0]].Value;

    public void SeekToFirst()
    {
        foreach (IInternalIterator c in _children)
        {
            c.SeekToFirst();
        }
        Rebuild();
    }

    public void Seek(ReadOnlySpan<byte> target)
    {
        foreach (IInternalIterator c in _children)
        {
            c.Seek(target);
        }
        Rebuild();
    }

    public void Next()
    {
        IInternalIterator top = _children[_heap[0]];
        top.Next();
        if (!top.Valid)
        {
            _heap[0] = _heap[--_size];
        }
        if (_size > 0)
        {
            SiftDown(0);
        }
    }

    private void Rebuild()
    {
        _size = 0;
        for (int i = 0; i < _children.Length; i++)
        {
            if (_children[i].Valid)
            {
                _heap[_size++] = i;
            }
        }
        for (int i = _size / 2 - 1; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    private bool Less(int a, int b)
    {
        int c = InternalKey.Compare(_children[a].Key, _children[b].Key);
        return c < 0 || (c == 0 && a < b);
    }

    private void SiftDown(int i)
    {
        while (true)
        {
            int l = 2 * i + 1;
            if (l >= _size)
            {
                return;
            }
            int smallest = l;
            int r = l + 1;
            if (r < _size && Less(_heap[r], _heap[l]))
            {
                smallest = r;
            }
            if (!Less(_heap[smallest], _heap[i]))
            {
                return;
            }
            (_heap[i], _heap[smallest]) = (_heap[smallest], _heap[i]);
            i = smallest;
        }
    }

    public void Dispose()
    {
        foreach (IInternalIterator c in _children)
        {
            c.Dispose();
        }
    }
}
