using Kv.Actors.Coordinators;
using Kv.Actors.Ring;
using RingMap = Kv.Actors.Ring.Ring;

namespace Kv.Actors.Tests;

public sealed class RingSpec
{
    private static readonly string[] Five = ["n1", "n2", "n3", "n4", "n5"];

    [Fact]
    public void The_preference_list_is_the_next_N_partitions_with_their_owners_on_distinct_nodes()
    {
        var ring = RingMap.Create(Five);
        var list = ring.PreferenceList(62, 3);
        Assert.Equal([62, 63, 0], list.Select(r => r.Partition));
        Assert.Equal(3, list.Select(r => r.Node).Distinct().Count());
        Assert.False(ring.ReplicasShareNodes(3));
        var forKey = ring.PreferenceList("default"u8, "k"u8, 3);
        Assert.Equal(KeyHash.PartitionOf("default"u8, "k"u8, 64), forKey[0].Partition);
        Assert.True(RingMap.Create(["a", "b"]).ReplicasShareNodes(3));
    }

    [Fact]
    public void Unreachable_primaries_are_replaced_by_the_next_distinct_reachable_nodes()
    {
        var ring = RingMap.Create(Five);
        var primaries = ring.PreferenceList(10, 3);
        var down = new HashSet<string> { primaries[1].Node };
        var sloppy = ring.WithFallbacks(primaries, down);
        Assert.Equal(3, sloppy.Count);
        Assert.DoesNotContain(sloppy, r => down.Contains(r.Node));
        Assert.Equal(3, sloppy.Select(r => r.Node).Distinct().Count());
        Assert.True(sloppy[1].Fallback);
        Assert.Equal(primaries[1].Partition, sloppy[1].Partition);
        Assert.False(sloppy[0].Fallback);
    }

    [Fact]
    public void The_next_ring_moves_few_partitions_and_bumps_the_version()
    {
        var ring = RingMap.Create(Five);
        var next = ring.Next([.. Five, "n6"]);
        Assert.Equal(ring.Version + 1, next.Version);
        Assert.InRange(ring.Owners.Zip(next.Owners).Count(p => p.First != p.Second), 10, 24);
    }

    [Fact]
    public void Namespace_settings_are_validated_and_name_the_bad_setting()
    {
        Assert.Same(NamespaceProps.Default, NamespaceProps.Default.Validate("default"));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => (NamespaceProps.Default with { W = 4 }).Validate("users"));
        Assert.Contains("namespace 'users': w = 4", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => (NamespaceProps.Default with { LastWriteWins = true }).Validate("x"));
        Assert.Throws<ArgumentOutOfRangeException>(() => (NamespaceProps.Default with { DW = 3 }).Validate("x"));
    }
}
