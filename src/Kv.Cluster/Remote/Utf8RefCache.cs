using Kv.Cluster.Actor;

namespace Kv.Cluster.Remote;

/// <summary>
/// The <see cref="RefCache"/> idea keyed by a path's UTF-8 bytes as they arrive in an envelope, so a
/// message to or from a known actor is routed without decoding either path into a string.
/// Direct-mapped, no locks: a newer path replaces the older one in its slot.
/// </summary>
internal sealed class Utf8RefCache
{
    private readonly Entry?[] _slots;
    private readonly int _mask;

    private sealed class Entry(byte[] key, IActorRef value)
    {
        public readonly byte[] Key = key;
        public readonly IActorRef Value = value;
    }

    /// <param name="size">Number of slots, rounded up to a power of two.</param>
    public Utf8RefCache(int size)
    {
        int n = 1;
        while (n < size)
            n <<= 1;
        _slots = new Entry?[n];
        _mask = n - 1;
    }

    public bool TryGet(ReadOnlySpan<byte> key, out IActorRef value)
    {
        var e = Volatile.Read(ref _slots[Slot(key)]);
        if (e is not null && key.SequenceEqual(e.Key))
        {
            value = e.Value;
            return true;
        }
        value = null!;
        return false;
    }

    public void Set(ReadOnlySpan<byte> key, IActorRef value) => Volatile.Write(ref _slots[Slot(key)], new Entry(key.ToArray(), value));

    private int Slot(ReadOnlySpan<byte> key)
    {
        var hash = new HashCode();
        hash.AddBytes(key);
        return hash.ToHashCode() & _mask;
    }
}
