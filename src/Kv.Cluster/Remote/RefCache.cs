using Kv.Cluster.Actor;

namespace Kv.Cluster.Remote;

/// <summary>
/// Path -> actor ref cache for remoting, direct-mapped: a fixed array of slots, a path's hash picks
/// its slot and a newer path simply replaces the older one there. Lookups and stores take no lock
/// and never scan (a ConcurrentDictionary with a size check took every bucket lock on every store,
/// and that dominated the CPU profile of a busy node). Per-request refs pass through and are
/// overwritten; long-lived ones (routers, vnodes) are re-resolved cheaply if pushed out.
/// </summary>
internal sealed class RefCache
{
    private readonly Entry?[] _slots;
    private readonly int _mask;

    private sealed class Entry(string key, IActorRef value)
    {
        public readonly string Key = key;
        public readonly IActorRef Value = value;
    }

    /// <param name="size">Number of slots, rounded up to a power of two.</param>
    public RefCache(int size)
    {
        int n = 1;
        while (n < size)
            n <<= 1;
        _slots = new Entry?[n];
        _mask = n - 1;
    }

    public bool TryGet(string key, out IActorRef value)
    {
        var e = Volatile.Read(ref _slots[Slot(key)]);
        if (e is not null && string.Equals(e.Key, key, StringComparison.Ordinal))
        {
            value = e.Value;
            return true;
        }
        value = null!;
        return false;
    }

    public void Set(string key, IActorRef value) => Volatile.Write(ref _slots[Slot(key)], new Entry(key, value));

    private int Slot(string key) => string.GetHashCode(key.AsSpan(), StringComparison.Ordinal) & _mask;
}
