using System.Runtime.InteropServices;
using System.IO.Hashing;

namespace Kv.Actors.Aae;

/// <summary>
/// A Merkle tree over one preference list's keys in one vnode, in the shape of Riak's hashtree:
/// <see cref="Segments"/> leaf segments (a key's segment is fixed by the hash of its key), 32
/// groups of 32 segments above them, and a root. A segment's hash is the XOR of its keys' item
/// hashes (each a hash of the key and of its object's causal clock), so a write updates it in
/// place: the old item out, the new one in. Groups and the root hash their children's hashes, so
/// two trees that differ anywhere differ at the root, and an exchange walks down only the groups
/// and segments that differ. Not thread safe: it belongs to its vnode.
/// </summary>
public sealed class HashTree
{
    /// <summary>Leaf segments (Riak's default is 1024*1024 for large vnodes; ours hold far fewer keys).</summary>
    public const int Segments = 1024;

    /// <summary>Children per inner node: 32 groups of 32 segments.</summary>
    public const int Width = 32;

    /// <summary>Groups under the root.</summary>
    public const int Groups = Segments / Width;

    private readonly ulong[] _segments = new ulong[Segments];

    /// <summary>Keys in the tree (for the status display).</summary>
    public long Count { get; private set; }

    /// <summary>The segment of a key, from its key hash (<see cref="KeyHashOf"/>).</summary>
    public static int SegmentOf(ulong keyHash) => (int)(keyHash >> 54);

    /// <summary>The hash that places a storage key in a segment.</summary>
    public static ulong KeyHashOf(ReadOnlySpan<byte> storageKey) => XxHash64.HashToUInt64(storageKey, seed: 0x6b76_6161_6531);

    /// <summary>Adds (or, the same call again, removes) an item in a segment.</summary>
    public void Toggle(int segment, ulong item, bool adding)
    {
        _segments[segment] ^= item;
        Count += adding ? 1 : -1;
    }

    /// <summary>The segment hashes of one group.</summary>
    public ulong[] SegmentsOf(int group) => _segments.AsSpan(group * Width, Width).ToArray();

    /// <summary>Every group's hash.</summary>
    public ulong[] GroupHashes()
    {
        var groups = new ulong[Groups];
        for (int g = 0; g < Groups; g++)
            groups[g] = XxHash64.HashToUInt64(MemoryMarshal.AsBytes(_segments.AsSpan(g * Width, Width)));
        return groups;
    }

    /// <summary>The root: the hash of the group hashes. Equal roots: equal trees (but for a 64-bit collision).</summary>
    public ulong Root() => XxHash64.HashToUInt64(MemoryMarshal.AsBytes(GroupHashes().AsSpan()));

    /// <summary>The root of an empty tree (what a vnode without keys of a preference list answers).</summary>
    public static readonly ulong EmptyRoot = new HashTree().Root();

    /// <summary>The group hashes of an empty tree.</summary>
    public static readonly ulong[] EmptyGroups = new HashTree().GroupHashes();

    /// <summary>Indices where two hash arrays of one level differ.</summary>
    public static List<int> Differing(IReadOnlyList<ulong> a, IReadOnlyList<ulong> b)
    {
        var differing = new List<int>();
        for (int i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            if (i >= a.Count || i >= b.Count || a[i] != b[i])
                differing.Add(i);
        }
        return differing;
    }
}
