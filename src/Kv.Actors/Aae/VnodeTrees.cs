using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;

namespace Kv.Actors.Aae;

/// <summary>
/// One vnode's Merkle trees: a <see cref="HashTree"/> per preference list it holds keys of. A key of
/// a namespace with n_val n whose own partition is q is on the n partitions q, q+1, .., q+n-1; this
/// vnode keeps it in the tree (q, n). Two vnodes of one preference list compare their (q, n) trees:
/// both hold exactly the keys of q whose n covers them both. An item's hash covers the key and its
/// object's causal clock (every dot and counter, in id order): replicas holding the same versions
/// have the same item, however their bytes were encoded. Not thread safe: its vnode's, or a build's.
/// </summary>
public sealed class VnodeTrees
{
    private readonly int _partition;
    private readonly int _ringSize;
    private readonly Func<string, int> _nValOf;
    private readonly int _maxNVal;
    private readonly Dictionary<(int Pref, int N), HashTree> _trees = [];

    public VnodeTrees(int partition, int ringSize, Func<string, int> nValOf, int maxNVal)
    {
        (_partition, _ringSize, _nValOf, _maxNVal) = (partition, ringSize, nValOf, maxNVal);
    }

    /// <summary>When the build these trees came from started (its snapshot).</summary>
    public DateTime BuiltAt { get; init; } = DateTime.UtcNow;

    /// <summary>The (preference list, n_val) pairs with a tree.</summary>
    public IReadOnlyCollection<(int Pref, int N)> Lists => _trees.Keys;

    /// <summary>Keys in all trees.</summary>
    public long Count => _trees.Values.Sum(t => t.Count);

    /// <summary>The tree of a preference list (null: no key of it here, an empty tree).</summary>
    public HashTree? Tree(int pref, int n) => _trees.GetValueOrDefault((pref, n));

    /// <summary>The tree a storage key belongs in, or null (a malformed key, or one that is not this vnode's).</summary>
    public (int Pref, int N, int Segment)? Place(byte[] storageKey)
    {
        // Split in place: this runs on every write.
        if (!VnodeActor.TrySplitStorageKey(storageKey, out var ns, out var key) || ns.IsEmpty || key.IsEmpty)
            return null;
        int n = Math.Clamp(NValOf(ns), 1, _maxNVal);
        int pref = KeyHash.PartitionOf(ns, key, _ringSize);
        int distance = ((_partition - pref) % _ringSize + _ringSize) % _ringSize;
        if (distance >= n)
            return null;
        return (pref, n, HashTree.SegmentOf(HashTree.KeyHashOf(storageKey)));
    }

    // The last namespace looked up, by its bytes: a vnode's writes mostly go to one or a few.
    private byte[] _lastNs = [];
    private int _lastNVal;

    private int NValOf(ReadOnlySpan<byte> ns)
    {
        if (!ns.SequenceEqual(_lastNs))
        {
            _lastNVal = _nValOf(Encoding.UTF8.GetString(ns));
            _lastNs = ns.ToArray();
        }
        return _lastNVal;
    }

    /// <summary>A write: the key's old object (null: it was absent) out of its tree, the new one (null: removed) in.</summary>
    public void Update(byte[] storageKey, DvvSet<Sibling>? before, DvvSet<Sibling>? after)
    {
        if ((before is null && after is null) || Place(storageKey) is not { } place)
            return;
        if (!_trees.TryGetValue((place.Pref, place.N), out var tree))
            _trees[(place.Pref, place.N)] = tree = new HashTree();
        if (before is not null)
            tree.Toggle(place.Segment, ItemHash(storageKey, before), adding: false);
        if (after is not null)
            tree.Toggle(place.Segment, ItemHash(storageKey, after), adding: true);
    }

    [ThreadStatic]
    private static XxHash64? _hasher;

    /// <summary>The hash of a key with its object's clock: equal on replicas that hold the same versions.</summary>
    public static ulong ItemHash(byte[] storageKey, DvvSet<Sibling> obj)
    {
        // One hasher per thread, reset for each item: every write hashes its key twice (before, after).
        var hash = _hasher ??= new XxHash64();
        hash.Reset();
        hash.Append(storageKey);
        Span<byte> number = stackalloc byte[8];
        Span<byte> id = stackalloc byte[256];
        foreach (var entry in obj.Entries)
        {
            hash.Append(Encoding.UTF8.GetMaxByteCount(entry.Id.Length) <= id.Length ? id[..Encoding.UTF8.GetBytes(entry.Id, id)] : Encoding.UTF8.GetBytes(entry.Id));
            BinaryPrimitives.WriteInt64LittleEndian(number, entry.Counter);
            hash.Append(number);
            BinaryPrimitives.WriteInt64LittleEndian(number, entry.Values.Length);
            hash.Append(number);
        }
        // Values without a dot are told apart by their content.
        foreach (var value in obj.Anonymous)
        {
            BinaryPrimitives.WriteInt64LittleEndian(number, value.LastModifiedMs);
            hash.Append(number);
            hash.Append(value.Value);
            hash.Append(value.Deleted ? [1] : [0]);
            if (value.ExpiresAtMs != 0)
            {
                // The expiry is part of the value (a dotted value's is fixed with its dot, which is hashed).
                BinaryPrimitives.WriteInt64LittleEndian(number, value.ExpiresAtMs);
                hash.Append(number);
            }
        }
        return hash.GetCurrentHashAsUInt64();
    }
}
