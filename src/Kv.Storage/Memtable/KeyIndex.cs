namespace Kv.Storage.Memtable;

/// <summary>
/// A memtable's point-lookup index: user key -> its skiplist node (which holds the key's versions,
/// newest first), an open-addressing hash table with one writer and lock-free readers. A key's
/// node never changes, so the writer only adds: it fills a slot with single stores; when the table
/// is half full it builds a table twice the size and publishes it whole, so a reader sees either
/// table complete. A reader that read its sequence before the table finds every key written at or
/// below that sequence.
/// </summary>
internal sealed class KeyIndex(SkipList list)
{
    private Slot[] _slots = new Slot[64];
    private int _count;

    private struct Slot
    {
        public int Hash;
        public long Node; // an arena reference (0: empty), so the table holds no object references
    }

    public int Count => _count;

    /// <summary>Adds the node of a user key not in the index yet. Single writer only.</summary>
    public void Add(long node)
    {
        ReadOnlySpan<byte> userKey = list.UserKey(node);
        int hash = Hash(userKey);
        Slot[] slots = _slots;
        int mask = slots.Length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask)
        {
            long existing = slots[i].Node;
            if (existing == 0)
            {
                slots[i].Hash = hash;
                Volatile.Write(ref slots[i].Node, node); // hash first: a reader that sees the node sees its hash
                if (++_count * 2 > slots.Length)
                {
                    Grow();
                }
                return;
            }
            if (slots[i].Hash == hash && list.UserKey(existing).SequenceEqual(userKey))
            {
                throw new InvalidOperationException("the user key has a node already");
            }
        }
    }

    /// <summary>The node of <paramref name="userKey"/>, or 0.</summary>
    public long Get(ReadOnlySpan<byte> userKey)
    {
        int hash = Hash(userKey);
        Slot[] slots = Volatile.Read(ref _slots);
        int mask = slots.Length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask)
        {
            long node = Volatile.Read(ref slots[i].Node);
            if (node == 0)
            {
                return 0;
            }
            if (slots[i].Hash == hash && list.UserKey(node).SequenceEqual(userKey))
            {
                return node;
            }
        }
    }

    private void Grow()
    {
        var bigger = new Slot[_slots.Length * 2];
        int mask = bigger.Length - 1;
        foreach (Slot s in _slots)
        {
            if (s.Node == 0)
            {
                continue;
            }
            int i = s.Hash & mask;
            while (bigger[i].Node != 0)
            {
                i = (i + 1) & mask;
            }
            bigger[i] = s;
        }
        Volatile.Write(ref _slots, bigger);
    }

    private static int Hash(ReadOnlySpan<byte> userKey)
    {
        var h = new HashCode();
        h.AddBytes(userKey);
        return h.ToHashCode();
    }
}
