using FsCheck;
using FsCheck.Fluent;
using Kv.Actors.Ring;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

public sealed class ClaimSpec(ITestOutputHelper output)
{
    // SHA-1 of 00000007 "default" "key", top 64 bits.
    private const ulong PinnedHash = 0xc1da7527eb04f6b6;

    private static string N(int i) => $"kv://kv@10.0.0.{i}:4000";

    private static int Moves(IReadOnlyList<string> a, IReadOnlyList<string> b) => a.Zip(b).Count(x => x.First != x.Second);

    [Fact]
    public void Growing_and_shrinking_rings_stay_balanced_spaced_and_move_little()
    {
        // Random sequences of joins and leaves on Q = 64 (and other sizes), checked after every step.
        var steps = Gen.Choose(0, 1).ListOf().Where(l => l.Count is > 0 and < 25);
        var sizes = Gen.Elements(32, 64, 128);
        Prop.ForAll(Arb.From(sizes), Arb.From(steps), (q, ops) => Check(q, ops)).QuickCheckThrowOnFailure();
    }

    [Theory]
    // Leaves to 8 or 9 nodes on Q = 32 where the few-moves path finds no valid ring and a fresh layout
    // moved 18-23 partitions for 3 forced (CI found one with a random seed).
    [InlineData(32, new[] { 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0 })]
    [InlineData(32, new[] { 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 })]
    [InlineData(32, new[] { 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0 })]
    [InlineData(32, new[] { 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0 })]
    public void Tight_leaves_move_little(int q, int[] ops) => Assert.True(CheckSteps(q, ops));

    private bool Check(int q, IList<int> ops)
    {
        try
        {
            return CheckSteps(q, ops);
        }
        catch (Exception e)
        {
            output.WriteLine($"q={q} ops=[{string.Join(",", ops)}]: {e}");
            throw;
        }
    }

    private bool CheckSteps(int q, IList<int> ops)
    {
        {
            var nodes = new List<string> { N(1) };
            int next = 2;
            var owners = Claim.Compute(null, nodes, q, 4);
            foreach (var op in ops)
            {
                var before = owners;
                int spacingBefore = Claim.AchievableSpacing(q, nodes.Count, 4);
                bool join = op == 1 || nodes.Count == 1;
                if (join)
                    nodes.Add(N(next++));
                else
                    nodes.RemoveAt(nodes.Count / 2);
                owners = Claim.Compute(before, nodes, q, 4);
                int spacing = Claim.AchievableSpacing(q, nodes.Count, 4);
                if (!Claim.IsValid(owners, nodes, spacing))
                {
                    output.WriteLine($"q={q} n={nodes.Count} join={join}: invalid [{string.Join(" ", owners.Select(o => o[^6..^5]))}]");
                    return false;
                }
                // Few moves: not more than twice what the new balance forces, unless the change made
                // the spacing guarantee possible for the first time (then the ring is re-striped once).
                int forced = join ? q / nodes.Count : before.Count(o => !nodes.Contains(o));
                // Joins move about what the new node must take. A leave in a small cluster (fewer than
                // 2 x targetN nodes) may re-stripe: every node already sits within 3 of the hole.
                int bound = join ? 2 * Math.Max(forced, 1) + 4 : 3 * forced + 8;
                bool checkMoves = spacing == spacingBefore && (join ? nodes.Count != 4 : nodes.Count >= 8);
                if (checkMoves && Moves(before, owners) > bound)
                {
                    output.WriteLine($"q={q} n={nodes.Count} join={join}: {Moves(before, owners)} moves, forced {forced}");
                    return false;
                }
            }
            return true;
        }
    }

    [Fact]
    public void A_new_ring_is_striped_evenly()
    {
        var nodes = Enumerable.Range(1, 5).Select(N).ToList();
        var owners = Claim.Compute(null, nodes, 64, 4);
        Assert.True(Claim.IsValid(owners, nodes, 4));
        Assert.All(nodes, n => Assert.InRange(owners.Count(o => o == n), 12, 13));
    }

    [Fact]
    public void The_key_hash_is_stable_and_spreads_keys_evenly()
    {
        // Pinned: the same on every machine and process.
        Assert.Equal(PinnedHash, KeyHash.Of("default"u8, "key"u8));
        var counts = new int[64];
        for (int i = 0; i < 64_000; i++)
            counts[KeyHash.PartitionOf("default"u8, System.Text.Encoding.ASCII.GetBytes("k" + i), 64)]++;
        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
        Assert.NotEqual(KeyHash.Of("ab"u8, "c"u8), KeyHash.Of("a"u8, "bc"u8));
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void Three_nodes_grown_one_by_one_put_n3_replicas_on_distinct_nodes_except_at_the_wrap(int q)
    {
        var owners = Claim.Compute(null, ["a"], q, 4);
        owners = Claim.Compute(owners, ["a", "b"], q, 4);
        owners = Claim.Compute(owners, ["a", "b", "c"], q, 4);
        Assert.True(Claim.BadWindows(owners, 3) <= 2, $"{Claim.BadWindows(owners, 3)} windows of 3 repeat a node");
        Assert.All(owners.GroupBy(o => o), g => Assert.InRange(g.Count(), q / 3, q / 3 + 1));
    }
}
