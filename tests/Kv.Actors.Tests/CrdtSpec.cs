using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Kv.Actors.Crdt;
using Kv.Actors.Objects;

namespace Kv.Actors.Tests;

/// <summary>The CRDT states on their own: operations, merge laws, bounds, encodings.</summary>
public sealed class CrdtSpec
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static IEnumerable<string> Members(OrSet s) => s.Members.Keys.Select(k => Encoding.UTF8.GetString(k));

    [Fact]
    public void A_counter_counts_per_actor_and_merges_by_maximum()
    {
        var a = PnCounter.Empty.Increment("a", 5).Increment("a", -2);
        var b = PnCounter.Empty.Increment("b", 10);
        Assert.Equal(3, a.Value);
        Assert.Equal(13, PnCounter.Merge(a, b).Value);
        // A later state of the same actor replaces its older one; nothing is counted twice.
        var a2 = a.Increment("a", 1);
        Assert.Equal(14, PnCounter.Merge(PnCounter.Merge(a, b), a2).Value);
        Assert.Equal(PnCounter.Merge(a2, b), PnCounter.Decode(PnCounter.Merge(a2, b).Encode()));
    }

    [Fact]
    public void A_counter_refuses_an_increment_that_would_overflow_and_keeps_its_value()
    {
        var c = PnCounter.Empty.Increment("a", long.MaxValue - 1);
        var e = Assert.Throws<CrdtRefusedException>(() => c.Increment("a", 2));
        Assert.Contains("overflow", e.Message);
        Assert.Equal(long.MaxValue, c.Increment("b", 1).Value);
        var low = PnCounter.Empty.Increment("a", long.MinValue + 1);
        Assert.Throws<CrdtRefusedException>(() => low.Increment("a", -1));
        Assert.Throws<CrdtRefusedException>(() => PnCounter.Empty.Increment("a", long.MinValue));
        // Concurrent increments that together leave the range: the value reports it, a further increment is refused.
        var x = PnCounter.Merge(PnCounter.Empty.Increment("a", long.MaxValue), PnCounter.Empty.Increment("b", long.MaxValue));
        Assert.Throws<OverflowException>(() => x.Value);
        Assert.Throws<CrdtRefusedException>(() => x.Increment("a", 1));
        Assert.Equal(long.MaxValue, x.Increment("c", -long.MaxValue).Value);
    }

    [Fact]
    public void An_or_set_adds_removes_and_lets_a_concurrent_add_win()
    {
        var s = OrSet.Empty.Add("a", B("x")).Add("a", B("y"));
        Assert.Equal(["x", "y"], Members(s));
        // Replica b has seen both adds; it removes x while a, concurrently, adds x again.
        var atB = s.Remove(B("x"));
        var atA = s.Add("a", B("x"));
        Assert.Equal(["x", "y"], Members(OrSet.Merge(atA, atB)));
        Assert.Equal(["x", "y"], Members(OrSet.Merge(atB, atA)));
        // A remove of what was seen wins over the stale copy that still has it.
        var removed = atA.Remove(B("x"));
        Assert.Equal(["y"], Members(OrSet.Merge(removed, s)));
        Assert.Equal(["y"], Members(OrSet.Merge(s, removed)));
        // A removed member comes back only when added again.
        var again = OrSet.Merge(removed, s).Add("b", B("x"));
        Assert.Equal(["x", "y"], Members(OrSet.Merge(again, removed)));
    }

    [Fact]
    public void An_or_set_refuses_a_huge_member_and_more_than_its_member_limit()
    {
        Assert.Throws<CrdtRefusedException>(() => OrSet.Empty.Add("a", new byte[OrSet.MaxMemberBytes + 1]));
        var s = OrSet.Empty;
        for (int i = 0; i < OrSet.MaxMembers; i++)
            s = s.Add("a", BitConverter.GetBytes(i));
        var e = Assert.Throws<CrdtRefusedException>(() => s.Add("a", B("one more")));
        Assert.Contains("at most", e.Message);
        Assert.Equal(OrSet.MaxMembers, s.Add("a", BitConverter.GetBytes(7)).Count); // re-adding a member is fine
    }

    [Fact]
    public void A_register_checks_its_type_and_the_later_write_wins()
    {
        var (r, _) = CrdtValues.Apply(CrdtValues.Empty(Datatype.Register), new CrdtOp(CrdtOpKind.RegisterSet, 0, [B(" 42 ")], "int"), "a", 1000);
        var reg = Assert.IsType<TypedRegister>(r);
        Assert.Equal(RegisterType.Int, reg.Type);
        Assert.Equal("42", reg.Text);
        Assert.Throws<CrdtRefusedException>(() => CrdtValues.Apply(reg, new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("99999999999999999999")], "int"), "a", 1000));
        Assert.Throws<CrdtRefusedException>(() => CrdtValues.Apply(reg, new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("abc")], "float"), "a", 1000));
        Assert.Throws<CrdtRefusedException>(() => CrdtValues.Apply(reg, new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("NaN")], "float"), "a", 1000));
        Assert.Throws<CrdtRefusedException>(() => CrdtValues.Apply(reg, new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("1")], "decimal"), "a", 1000));
        // Same clock reading at the same replica: still later (timestamp + 1).
        var (next, _) = CrdtValues.Apply(reg, new CrdtOp(CrdtOpKind.RegisterSet, 0, [B("2.5")], "float"), "a", 1000);
        var later = Assert.IsType<TypedRegister>(next);
        Assert.Equal(1001, later.Timestamp);
        Assert.Same(later, TypedRegister.Merge(reg, later));
        Assert.Same(later, TypedRegister.Merge(later, reg));
        Assert.Equal(later, TypedRegister.Decode(later.Encode()));
    }

    [Fact]
    public void Decoders_reject_malformed_states()
    {
        var states = new byte[][]
        {
            PnCounter.Empty.Increment("a", 3).Increment("b", -1).Encode(),
            OrSet.Empty.Add("a", B("x")).Add("b", B("y")).Encode(),
            new TypedRegister(RegisterType.String, B("v"), 5, "a").Encode(),
            OrMap.Empty.Set("a", B("f"), B("v"), 5).Increment("b", B("g"), 2, out _).Encode(),
            OrList.Empty.Push("a", B("x"), true).Push("b", B("y"), false).Encode(),
        };
        var types = new[] { Datatype.Counter, Datatype.Set, Datatype.Register, Datatype.Hash, Datatype.List };
        for (int t = 0; t < states.Length; t++)
        {
            var good = states[t];
            Assert.NotNull(CrdtValues.Decode(types[t], good));
            for (int cut = 0; cut < good.Length; cut++)
                Assert.Throws<FormatException>(() => CrdtValues.Decode(types[t], good.AsSpan(0, cut)));
            Assert.Throws<FormatException>(() => CrdtValues.Decode(types[t], [.. good, 0]));
            var version = (byte[])good.Clone();
            version[1] = 9;
            Assert.Throws<FormatException>(() => CrdtValues.Decode(types[t], version));
            Assert.Throws<FormatException>(() => CrdtValues.Decode(types[(t + 1) % types.Length], good));
        }
        // Random bytes never decode into anything but a FormatException.
        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, 60)];
            random.NextBytes(bytes);
            if (bytes.Length > 1)
                bytes[1] = 1;
            foreach (var t in types)
            {
                try
                {
                    CrdtValues.Decode(t, bytes);
                }
                catch (FormatException)
                {
                }
            }
        }
        // A negative counter entry, a set member with a dot its clock has not seen.
        var w = new byte[] { 0x43, 1, 1, 0, 0, 0, 1, 0, 0, 0, (byte)'a', 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0 };
        Assert.Throws<FormatException>(() => PnCounter.Decode(w));
    }

    [Fact]
    public void Collapse_merges_crdt_siblings_and_leaves_ordinary_values_alone()
    {
        var c1 = new Sibling(PnCounter.Empty.Increment("a", 2).Encode(), CrdtValues.ContentType(Datatype.Counter), 1, false);
        var c2 = new Sibling(PnCounter.Empty.Increment("b", 3).Encode(), CrdtValues.ContentType(Datatype.Counter), 2, false);
        var obj = DvvSet<Sibling>.Sync(DvvSet<Sibling>.Create(DvvSet<Sibling>.New(c1), "v1"), DvvSet<Sibling>.Create(DvvSet<Sibling>.New(c2), "v2"));
        Assert.Equal(2, obj.Size);
        var one = CrdtValues.Collapse(obj)!;
        Assert.Equal(5, PnCounter.Decode(one.Value).Value);
        Assert.Null(CrdtValues.Collapse(DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(B("x"), "text/plain", 1, false)), "v1")));
        var mixed = DvvSet<Sibling>.Sync(obj, DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(B("x"), "text/plain", 1, false)), "v3"));
        Assert.Throws<CrdtRefusedException>(() => CrdtValues.MergedState(mixed, Datatype.Counter));
    }

    [Fact]
    public void A_hash_sets_counts_deletes_and_keeps_a_concurrent_update_of_a_deleted_field()
    {
        var h = OrMap.Empty.Set("a", B("name"), B("ann"), 10).Increment("a", B("visits"), 3, out long v);
        Assert.Equal(3, v);
        Assert.Equal("ann", h.Get(B("name")));
        Assert.Equal("3", h.Get(B("visits")));
        Assert.Throws<CrdtRefusedException>(() => h.Increment("a", B("name"), 1, out _));
        Assert.Throws<CrdtRefusedException>(() => h.Set("a", B("visits"), B("x"), 11));
        Assert.Throws<CrdtRefusedException>(() => h.Increment("a", B("visits"), long.MaxValue, out _));
        Assert.Throws<CrdtRefusedException>(() => h.Set("a", [], B("x"), 11));
        // b deletes visits (seen: 3) while a, concurrently, counts 2 more: the field stays with the 2 the delete did not see.
        var atB = h.Remove(B("visits"));
        var atA = h.Increment("a", B("visits"), 2, out _);
        Assert.Null(atB.Get(B("visits")));
        Assert.Equal("2", OrMap.Merge(atA, atB).Get(B("visits")));
        Assert.Equal("2", OrMap.Merge(atB, atA).Get(B("visits")));
        // A deleted counter field counts from 0 again.
        var again = atB.Increment("b", B("visits"), 1, out long restarted);
        Assert.Equal(1, restarted);
        Assert.Equal("1", OrMap.Merge(again, h).Get(B("visits")));
        // A deleted value field stays deleted against the stale copy; a concurrent hset keeps it.
        var gone = h.Remove(B("name"));
        Assert.Null(OrMap.Merge(gone, h).Get(B("name")));
        var renamed = h.Set("c", B("name"), B("bob"), 20);
        Assert.Equal("bob", OrMap.Merge(gone, renamed).Get(B("name")));
        Assert.Equal(OrMap.Merge(gone, renamed), OrMap.Decode(OrMap.Merge(gone, renamed).Encode()));
        // A field counted by 0 and deleted leaves nothing, as a merge leaves nothing of it (idempotence).
        var zero = OrMap.Empty.Increment("a", B("z"), 0, out _).Remove(B("z"));
        Assert.Equal(zero, OrMap.Merge(zero, zero));
        Assert.Empty(zero.Fields);
    }

    [Fact]
    public void A_list_pushes_at_both_ends_pops_ranges_and_removes()
    {
        var l = OrList.Empty.Push("a", B("b"), left: false).Push("a", B("c"), left: false).Push("a", B("a"), left: true);
        Assert.Equal(["a", "b", "c"], l.Range(0, -1).Select(Encoding.UTF8.GetString));
        Assert.Equal(["b", "c"], l.Range(1, 5).Select(Encoding.UTF8.GetString));
        Assert.Equal(["c"], l.Range(-1, -1).Select(Encoding.UTF8.GetString));
        Assert.Empty(l.Range(3, 4));
        var popped = l.Pop(left: true, out var head);
        Assert.Equal("a", Encoding.UTF8.GetString(head!));
        Assert.Equal(2, popped.Count);
        Assert.Null(OrList.Empty.Pop(left: false, out var none).Range(0, -1).FirstOrDefault() ?? none);
        var dup = l.Push("a", B("b"), left: false).Push("a", B("b"), left: true);
        Assert.Equal(["a", "c", "b"], dup.RemoveValue(2, B("b"), out long removed).Range(0, -1).Select(Encoding.UTF8.GetString));
        Assert.Equal(2, removed);
        Assert.Equal(["b", "a", "b", "c"], dup.RemoveValue(-1, B("b"), out _).Range(0, -1).Select(Encoding.UTF8.GetString));
        Assert.Equal(["a", "c"], dup.RemoveValue(0, B("b"), out removed).Range(0, -1).Select(Encoding.UTF8.GetString));
        Assert.Equal(3, removed);
        // Concurrent pushes at the same end at two replicas: both kept, in the same order on both.
        var x = l.Push("x", B("x"), left: false);
        var y = l.Push("y", B("y"), left: false);
        Assert.Equal(OrList.Merge(x, y).Range(0, -1).Select(Encoding.UTF8.GetString), OrList.Merge(y, x).Range(0, -1).Select(Encoding.UTF8.GetString));
        Assert.Equal(5, OrList.Merge(x, y).Count);
        // Two concurrent pops may take the same element; a popped element does not come back.
        var p1 = l.Pop(left: true, out var e1);
        var p2 = l.Pop(left: true, out var e2);
        Assert.Equal(e1, e2);
        Assert.Equal(["b", "c"], OrList.Merge(OrList.Merge(p1, p2), l).Range(0, -1).Select(Encoding.UTF8.GetString));
        Assert.Throws<CrdtRefusedException>(() => l.Push("a", new byte[OrList.MaxElementBytes + 1], left: true));
        Assert.Equal(l, OrList.Decode(l.Encode()));
    }

    // ---- merge laws, by property: random histories at three replicas ----

    private sealed record Step(int Replica, int Kind, int Element, int Amount, int From);

    private static readonly Gen<List<Step>> Histories =
        Gen.Choose(0, 2).SelectMany(r => Gen.Choose(0, 3), (r, k) => (r, k))
            .SelectMany(rk => Gen.Choose(0, 5), (rk, e) => (rk.r, rk.k, e))
            .SelectMany(t => Gen.Choose(-50, 50), (t, a) => (t.r, t.k, t.e, a))
            .SelectMany(t => Gen.Choose(0, 2), (t, f) => new Step(t.r, t.k, t.e, t.a, f))
            .ListOf().Select(l => l.ToList()).Where(l => l.Count < 40);

    /// <summary>Runs a history: kind 0/1 an update at the replica (set: add/remove; counter: +/-), 2/3 a merge from another replica.</summary>
    private static T[] Run<T>(List<Step> history, T empty, Func<T, Step, string, T> update, Func<T, T, T> merge)
    {
        var replicas = new[] { empty, empty, empty };
        foreach (var s in history)
        {
            replicas[s.Replica] = s.Kind <= 1 ? update(replicas[s.Replica], s, "r" + s.Replica) : merge(replicas[s.Replica], replicas[s.From]);
        }
        return replicas;
    }

    private static bool Laws<T>(T[] r, Func<T, T, T> merge, Func<T, T, bool> same) =>
        same(merge(r[0], r[1]), merge(r[1], r[0]))
        && same(merge(merge(r[0], r[1]), r[2]), merge(r[0], merge(r[1], r[2])))
        && same(merge(r[0], r[0]), r[0])
        && same(merge(merge(r[0], r[1]), r[1]), merge(r[0], r[1]));

    [Fact]
    public void Counter_merge_is_commutative_associative_idempotent_and_counts_every_update_once()
    {
        Prop.ForAll(Arb.From(Histories), history =>
        {
            var r = Run(history, PnCounter.Empty, (c, s, actor) => c.Increment(actor, s.Kind == 0 ? Math.Abs(s.Amount) : -Math.Abs(s.Amount)), PnCounter.Merge);
            var all = PnCounter.Merge(PnCounter.Merge(r[0], r[1]), r[2]);
            long expected = history.Where(s => s.Kind <= 1).Sum(s => (long)(s.Kind == 0 ? Math.Abs(s.Amount) : -Math.Abs(s.Amount)));
            return Laws(r, PnCounter.Merge, (a, b) => a.Equals(b)) && all.Value == expected && PnCounter.Decode(all.Encode()).Equals(all);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Or_set_merge_is_commutative_associative_idempotent_and_add_wins()
    {
        Prop.ForAll(Arb.From(Histories), history =>
        {
            var r = Run(history, OrSet.Empty, (set, s, actor) => s.Kind == 0 ? set.Add(actor, B("e" + s.Element)) : set.Remove(B("e" + s.Element)), OrSet.Merge);
            var all = OrSet.Merge(OrSet.Merge(r[0], r[1]), r[2]);
            // Every replica's members that no other replica has removed after seeing them survive; in
            // particular, a member a replica holds is kept unless another replica saw that very add and removed it.
            bool addsSurvive = true;
            for (int i = 0; i < 3; i++)
            {
                foreach (var (member, dots) in r[i].Members)
                {
                    bool removedElsewhere = Enumerable.Range(0, 3).Where(j => j != i)
                        .Any(j => !r[j].Members.ContainsKey(member) && dots.All(d => r[j].Clock.GetValueOrDefault(d.Key) >= d.Value));
                    if (!removedElsewhere && !all.Contains(member))
                        addsSurvive = false;
                }
            }
            return Laws(r, OrSet.Merge, (a, b) => a.Equals(b)) && addsSurvive && OrSet.Decode(all.Encode()).Equals(all);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Hash_merge_is_commutative_associative_idempotent()
    {
        Prop.ForAll(Arb.From(Histories), history =>
        {
            var r = Run(history, OrMap.Empty, (m, s, actor) =>
            {
                byte[] field = B("f" + (s.Element % 3));
                if (s.Kind == 1)
                    return m.Remove(field);
                try
                {
                    return s.Element % 2 == 0 ? m.Increment(actor, field, s.Amount, out _) : m.Set(actor, field, B("v" + s.Amount), 1000 + s.Amount);
                }
                catch (CrdtRefusedException)
                {
                    return m; // hset on a counting field, or hincr on a value field
                }
            }, OrMap.Merge);
            var all = OrMap.Merge(OrMap.Merge(r[0], r[1]), r[2]);
            return Laws(r, OrMap.Merge, (a, b) => a.Equals(b)) && OrMap.Decode(all.Encode()).Equals(all);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void List_merge_is_commutative_associative_idempotent_and_never_brings_back_a_popped_element()
    {
        Prop.ForAll(Arb.From(Histories), history =>
        {
            var popped = new HashSet<(string, long)>();
            var r = Run(history, OrList.Empty, (l, s, actor) =>
            {
                if (s.Kind == 0)
                    return l.Push(actor, B("e" + s.Element), left: s.Amount < 0);
                if (l.Count > 0)
                {
                    var id = s.Amount < 0 ? l.Elements.Keys.First() : l.Elements.Keys.Last();
                    popped.Add((id.Actor, id.Counter));
                }
                return l.Pop(left: s.Amount < 0, out _);
            }, OrList.Merge);
            var all = OrList.Merge(OrList.Merge(r[0], r[1]), r[2]);
            return Laws(r, OrList.Merge, (a, b) => a.Equals(b)) && OrList.Decode(all.Encode()).Equals(all)
                && all.Elements.Keys.All(id => !popped.Contains((id.Actor, id.Counter)));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Register_merge_is_commutative_associative_idempotent()
    {
        Prop.ForAll(Arb.From(Histories), history =>
        {
            var r = Run(history, (TypedRegister)CrdtValues.Empty(Datatype.Register),
                (reg, s, actor) => (TypedRegister)CrdtValues.Apply(reg, new CrdtOp(CrdtOpKind.RegisterSet, 0, [B(s.Amount.ToString(System.Globalization.CultureInfo.InvariantCulture))], "int"), actor, 1000 + s.Element).State,
                TypedRegister.Merge);
            return Laws(r, TypedRegister.Merge, (a, b) => a.Equals(b));
        }).QuickCheckThrowOnFailure();
    }
}
