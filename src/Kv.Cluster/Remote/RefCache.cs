using Kv.Cluster.Actor;

namespace Kv.Cluster.Remote;

/// <summary>
/// Path -> actor ref cache for remoting, direct-mapped: a fixed array of slots, a path's hash picks
/// its slot and a newer path simply replaces the older one there. Lookups and stores take no lock
/// and never scan (a ConcurrentDictionary with a size check took every bucket lock on every store,
/// and that dominated the CPU profile of a busy node). Per-request refs pass through and are
/// overwritten; long-lived ones (routers, vnodes) are re-resolved cheaply if pushed out. A path is
/// keyed either as a string or, for paths read from an envelope, as its UTF-8 bytes (so a message
/// between known actors decodes no string); one cache holds one kind.
/// </summary>
internal sealed class RefCache
{
    private readonly Entry?[] _slots;
    private readonly int _mask;

    private sealed class Entry(object key, IActorRef value)
    {
        public readonly object Key = key; // string or byte[]
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
        return Found(e, e?.Key is string s && string.Equals(s, key, StringComparison.Ordinal), out value);
    }

    public bool TryGet(ReadOnlySpan<byte> key, out IActorRef value)
    {
        var e = Volatile.Read(ref _slots[Slot(key)]);
        return Found(e, e?.Key is byte[] b && key.SequenceEqual(b), out value);
    }

    public void Set(string key, IActorRef value)
    {
        if (!IsAnonymous(key.AsSpan()))
            Volatile.Write(ref _slots[Slot(key)], new Entry(key, value));
    }

    public void Set(ReadOnlySpan<byte> key, IActorRef value)
    {
        if (!IsAnonymous(key))
            Volatile.Write(ref _slots[Slot(key)], new Entry(key.ToArray(), value));
    }

    /// <summary>Whether the path's last element is an anonymous actor's name (which starts with <c>$</c>).</summary>
    public static bool IsAnonymous(ReadOnlySpan<char> path)
    {
        int slash = path.LastIndexOf('/');
        return slash + 1 < path.Length && path[slash + 1] == '$';
    }

    /// <inheritdoc cref="IsAnonymous(ReadOnlySpan{char})"/>
    public static bool IsAnonymous(ReadOnlySpan<byte> utf8Path)
    {
        int slash = utf8Path.LastIndexOf((byte)'/');
        return slash + 1 < utf8Path.Length && utf8Path[slash + 1] == (byte)'$';
    }

    private static bool Found(Entry? e, bool match, out IActorRef value)
    {
        value = match ? e!.Value : null!;
        return match;
    }

    private int Slot(string key) => string.GetHashCode(key.AsSpan(), StringComparison.Ordinal) & _mask;

    private int Slot(ReadOnlySpan<byte> key)
    {
        var hash = new HashCode();
        hash.AddBytes(key);
        return hash.ToHashCode() & _mask;
    }
}
