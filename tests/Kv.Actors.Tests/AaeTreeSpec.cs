using System.Text;
using Kv.Actors.Aae;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;

namespace Kv.Actors.Tests;

/// <summary>The anti-entropy hash trees: content decides the hashes, not the order of writes; a difference shows on the way down.</summary>
public sealed class AaeTreeSpec
{
    private const int RingSize = 16;

    private static DvvSet<Sibling> Obj(string value, string actor) =>
        DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(Encoding.UTF8.GetBytes(value), "", 1, false)), actor);

    private static byte[] K(string key) => VnodeActor.StorageKey("default"u8.ToArray(), Encoding.UTF8.GetBytes(key));

    /// <summary>Keys of this vnode's preference lists (their own partition is this one or up to two before).</summary>
    private static List<string> KeysOf(int partition, int count)
    {
        var keys = new List<string>();
        for (int i = 0; keys.Count < count; i++)
        {
            int own = Ring.KeyHash.PartitionOf("default"u8, Encoding.UTF8.GetBytes("k" + i), RingSize);
            if (((partition - own) % RingSize + RingSize) % RingSize < 3)
                keys.Add("k" + i);
        }
        return keys;
    }

    private static VnodeTrees New(int partition = 5) => new(partition, RingSize, _ => 3, 3);

    [Fact]
    public void The_same_objects_give_the_same_trees_whatever_the_order_and_history_of_writes()
    {
        var keys = KeysOf(5, 200);
        var a = New();
        var b = New();
        foreach (var k in keys)
            a.Update(K(k), null, Obj(k, "x"));
        // b: in reverse order, with an older version of every other key replaced on the way, and a key added and removed.
        foreach (var k in Enumerable.Reverse(keys))
        {
            if (k.GetHashCode() % 2 == 0)
            {
                b.Update(K(k), null, Obj("old", "y"));
                b.Update(K(k), Obj("old", "y"), Obj(k, "x"));
            }
            else
            {
                b.Update(K(k), null, Obj(k, "x"));
            }
        }
        b.Update(K("gone"), null, Obj("g", "x"));
        b.Update(K("gone"), Obj("g", "x"), null);
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(a.Lists.Order(), b.Lists.Order());
        foreach (var (pref, n) in a.Lists)
            Assert.Equal(a.Tree(pref, n)!.Root(), b.Tree(pref, n)!.Root());
    }

    [Fact]
    public void A_missing_or_different_key_shows_in_the_root_its_group_and_its_segment_only()
    {
        var keys = KeysOf(5, 300);
        var a = New();
        var b = New();
        foreach (var k in keys)
        {
            a.Update(K(k), null, Obj(k, "x"));
            b.Update(K(k), null, Obj(k, "x"));
        }
        string missing = keys[17], newer = keys[42];
        b.Update(K(missing), Obj(missing, "x"), null);
        b.Update(K(newer), Obj(newer, "x"), DvvSet<Sibling>.Sync(Obj(newer, "x"), Obj("sibling", "z")));
        var expected = new[] { missing, newer }.Select(k => (a.Place(K(k))!.Value)).ToList();
        var differingSegments = new HashSet<(int, int, int)>();
        foreach (var (pref, n) in a.Lists)
        {
            var ta = a.Tree(pref, n)!;
            var tb = b.Tree(pref, n)!;
            var groups = HashTree.Differing(ta.GroupHashes(), tb.GroupHashes());
            Assert.Equal(groups.Count > 0, ta.Root() != tb.Root());
            foreach (int g in groups)
            {
                foreach (int i in HashTree.Differing(ta.SegmentsOf(g), tb.SegmentsOf(g)))
                    differingSegments.Add((pref, n, g * HashTree.Width + i));
            }
        }
        Assert.Equal(expected.Select(e => (e.Pref, e.N, e.Segment)).ToHashSet(), differingSegments);
    }

    [Fact]
    public void The_item_hash_follows_the_clock_not_the_encoding_and_keys_of_other_partitions_are_not_placed()
    {
        var one = Obj("v", "x");
        var decoded = KvObjectCodec.Decode(KvObjectCodec.Encode(one));
        Assert.Equal(VnodeTrees.ItemHash(K("a"), one), VnodeTrees.ItemHash(K("a"), decoded));
        Assert.NotEqual(VnodeTrees.ItemHash(K("a"), one), VnodeTrees.ItemHash(K("b"), one));
        Assert.NotEqual(VnodeTrees.ItemHash(K("a"), one), VnodeTrees.ItemHash(K("a"), Obj("v", "y")));
        var far = KeysOf(12, 5); // keys of partitions 10..12: not on partition 5
        Assert.All(far, k => Assert.Null(New(5).Place(K(k))));
        Assert.Null(New().Place([0xFF, 0x02, 1, 2])); // the vnode's own records
    }

    [Fact]
    public void Differing_keys_are_those_with_other_hashes_or_on_one_side_only()
    {
        var a = new List<AaeKeyHash> { new([1], 1), new([2], 2), new([3], 3) };
        var b = new List<AaeKeyHash> { new([1], 1), new([2], 9), new([4], 4) };
        var differing = AaeExchange.DifferingKeys(a, b).Select(k => k[0]).Order().ToList();
        Assert.Equal([2, 3, 4], differing);
    }
}
