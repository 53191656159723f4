using FsCheck;
using FsCheck.Fluent;
using Kv.Actors.Objects;

namespace Kv.Actors.Tests;

/// <summary>Riak dvvset's worked examples, and the algebra of sync on states the protocol can reach.</summary>
public sealed class DvvSetSpec
{
    private static DvvSet<string> New(string v) => DvvSet<string>.New(v);

    private static DvvSet<string> New(VersionVector ctx, string v) => DvvSet<string>.New(ctx, v);

    private static DvvSet<string> Create(DvvSet<string> c, string id) => DvvSet<string>.Create(c, id);

    private static DvvSet<string> Update(DvvSet<string> c, DvvSet<string> s, string id) => DvvSet<string>.Update(c, s, id);

    private static DvvSet<string> Sync(DvvSet<string> a, DvvSet<string> b) => DvvSet<string>.Sync(a, b);

    [Fact]
    public void Join_gives_the_causal_context()
    {
        var a = New("v1");
        var a1 = Create(a, "a");
        var b = New(a1.Join(), "v2");
        var b1 = Update(b, a1, "b");
        Assert.Equal(VersionVector.Empty, a.Join());
        Assert.Equal(VersionVector.Of(("a", 1)), a1.Join());
        Assert.Equal(VersionVector.Of(("a", 1), ("b", 1)), b1.Join());
    }

    [Fact]
    public void Update_replaces_what_the_context_saw_and_keeps_concurrent_values()
    {
        var a0 = Create(New("v1"), "a");
        var a1 = Update(New(a0.Join(), "v2"), a0, "a");
        var a2 = Update(New(a1.Join(), "v3"), a1, "b");
        var a3 = Update(New(a0.Join(), "v4"), a1, "b");
        var a4 = Update(New(a0.Join(), "v5"), a1, "a");
        Assert.Equal("{[{a,1,[v1]}],[]}", a0.ToString());
        Assert.Equal("{[{a,2,[v2]}],[]}", a1.ToString());
        Assert.Equal("{[{a,2,[]}, {b,1,[v3]}],[]}", a2.ToString());
        Assert.Equal("{[{a,2,[v2]}, {b,1,[v4]}],[]}", a3.ToString());
        Assert.Equal("{[{a,3,[v5,v2]}],[]}", a4.ToString());
        Assert.Equal(["v5", "v2"], a4.Values);
    }

    [Fact]
    public void Sync_examples()
    {
        var x = new DvvSet<string>([new DvvSet<string>.Entry("x", 1, [])], []);
        var a = Create(New("v1"), "a");
        var y = Create(New("v2"), "b");
        var a1 = Create(New(a.Join(), "v2"), "a");
        var a3 = Create(New(a1.Join(), "v3"), "b");
        var a4 = Create(New(a1.Join(), "v3"), "c");
        var w = new DvvSet<string>([new DvvSet<string>.Entry("a", 1, [])], []);
        var z = new DvvSet<string>([new DvvSet<string>.Entry("a", 2, ["v2", "v1"])], []);
        Assert.Equal("{[{a,2,[v2]}],[]}", Sync(w, z).ToString());
        Assert.True(Sync(w, z).SameAs(Sync(z, w)));
        Assert.True(Sync(a, a1).SameAs(Sync(a1, a)));
        Assert.True(Sync(a4, a3).SameAs(Sync(a3, a4)));
        Assert.Equal("{[{a,2,[]}, {b,1,[v3]}, {c,1,[v3]}],[]}", Sync(a4, a3).ToString());
        Assert.Equal("{[{a,1,[v1]}, {x,1,[]}],[]}", Sync(x, a).ToString());
        Assert.True(Sync(x, a).SameAs(Sync(a, x)));
        Assert.Equal("{[{a,1,[v1]}, {b,1,[v2]}],[]}", Sync(a, y).ToString());
        Assert.True(Sync(y, a).SameAs(Sync(a, y)));
    }

    [Fact]
    public void Less_orders_causal_histories()
    {
        var a = Create(New("v1"), "a");
        var b = Create(New(a.Join(), "v2"), "a");
        var c = Create(New("v3"), "b");
        Assert.True(DvvSet<string>.Less(a, b));
        Assert.False(DvvSet<string>.Less(b, a));
        Assert.False(DvvSet<string>.Less(a, c));
        Assert.False(DvvSet<string>.Less(c, a));
        Assert.False(DvvSet<string>.Less(a, a));
    }

    [Fact]
    public void Concurrent_blind_writes_through_one_replica_are_all_kept_and_a_write_with_the_merged_context_resolves_them()
    {
        var stored = DvvSet<string>.Empty;
        stored = Update(New("x"), stored, "r1");
        stored = Update(New("y"), stored, "r1");
        Assert.Equal(2, stored.Size);
        var resolved = Update(New(stored.Join(), "z"), stored, "r1");
        Assert.Equal(["z"], resolved.Values);
    }

    // ---- properties on reachable states -------------------------------------------------------

    private static readonly string[] Actors = ["a", "b", "c"];

    /// <summary>Replays writes (blind or with a replica's context) and syncs across 3 replicas; returns the replicas.</summary>
    private static DvvSet<string>[] Simulate(IList<(int Kind, int R1, int R2)> ops)
    {
        var replicas = new[] { DvvSet<string>.Empty, DvvSet<string>.Empty, DvvSet<string>.Empty };
        int value = 0;
        foreach (var (kind, r1, r2) in ops)
        {
            var v = "v" + value++;
            switch (kind)
            {
                case 0:
                    replicas[r1] = Update(New(v), replicas[r1], Actors[r1]);
                    break;
                case 1:
                    replicas[r1] = Update(New(replicas[r2].Join(), v), replicas[r1], Actors[r1]);
                    break;
                default:
                    replicas[r1] = Sync(replicas[r1], replicas[r2]);
                    break;
            }
        }
        return replicas;
    }

    private static bool Same(DvvSet<string> x, DvvSet<string> y) =>
        x.Entries.SequenceEqual(y.Entries) && x.Anonymous.Order().SequenceEqual(y.Anonymous.Order());

    private static Arbitrary<DvvSet<string>[]> States()
    {
        var op = Gen.Choose(0, 2).SelectMany(k => Gen.Choose(0, 2).SelectMany(r1 => Gen.Choose(0, 2).Select(r2 => (k, r1, r2))));
        return Arb.From(op.ListOf().Select(ops => Simulate(ops)));
    }

    [Fact]
    public void Sync_is_commutative_associative_and_idempotent()
    {
        Prop.ForAll(States(), r =>
            Same(Sync(r[0], r[1]), Sync(r[1], r[0]))
            && Same(Sync(Sync(r[0], r[1]), r[2]), Sync(r[0], Sync(r[1], r[2])))
            && Same(Sync(r[0], r[0]), r[0])
            && Same(Sync(Sync(r[0], r[1]), r[1]), Sync(r[0], r[1]))).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void After_a_full_sync_exactly_the_values_no_later_context_covered_survive()
    {
        // The core promise: a write replaces exactly what its context saw; nothing else is lost.
        var op = Gen.Choose(0, 2).SelectMany(k => Gen.Choose(0, 2).SelectMany(r1 => Gen.Choose(0, 2).Select(r2 => (k, r1, r2))));
        Prop.ForAll(Arb.From(op.ListOf()), ops =>
        {
            var replicas = new[] { DvvSet<string>.Empty, DvvSet<string>.Empty, DvvSet<string>.Empty };
            var dots = new Dictionary<string, (string Actor, long Counter)>();
            var contexts = new List<VersionVector>();
            int value = 0;
            foreach (var (kind, r1, r2) in ops)
            {
                var v = "v" + value++;
                if (kind == 2)
                {
                    replicas[r1] = Sync(replicas[r1], replicas[r2]);
                    continue;
                }
                var context = kind == 0 ? VersionVector.Empty : replicas[r2].Join();
                contexts.Add(context);
                replicas[r1] = Update(New(context, v), replicas[r1], Actors[r1]);
                dots[v] = (Actors[r1], replicas[r1].Entries.Single(e => e.Id == Actors[r1]).Counter);
            }
            var all = Sync(Sync(replicas[0], replicas[1]), replicas[2]);
            var expected = dots.Where(d => !contexts.Any(c => c.Counters.GetValueOrDefault(d.Value.Actor) >= d.Value.Counter))
                .Select(d => d.Key).Order().ToList();
            return all.Values.Order().SequenceEqual(expected);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Overwrite_is_an_update_whose_context_is_the_whole_stored_set()
    {
        // The vnode's last_write_wins path takes the shortcut; it must give exactly the long way's set.
        var states = States();
        Prop.ForAll(states, Arb.From(Gen.Choose(0, 3)), (r, who) =>
        {
            string id = who < 3 ? Actors[who] : "new-actor";
            foreach (var stored in r.Append(new DvvSet<string>(r[0].Entries, ["anon"])))
            {
                var longWay = Update(New(stored.Join(), "w"), stored, id);
                var shortcut = DvvSet<string>.Overwrite(stored, "w", id);
                if (!Same(longWay, shortcut) || shortcut.Values.Count(v => v == "w") != 1)
                    return false;
            }
            return true;
        }).QuickCheckThrowOnFailure();
    }
}
