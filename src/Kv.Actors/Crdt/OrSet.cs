using System.Collections.Immutable;

namespace Kv.Actors.Crdt;

/// <summary>
/// An add-wins observed-remove set without tombstones (Riak's ORSWOT): a version vector of the
/// adds seen (actor → count) and, per member, the dots (actor, count) of the adds that put it
/// there. An add takes a new dot from its actor and replaces the member's dots; a remove drops the
/// member with the dots the coordinating replica has seen, so an add it has not seen (concurrent)
/// survives the merge: add wins. Merge keeps a dot both sides hold, and a dot one side holds that
/// the other side's clock has not seen. Immutable.
/// </summary>
public sealed class OrSet : IEquatable<OrSet>
{
    internal const byte Tag = 0x53; // 'S'
    private const byte Version = 1;

    /// <summary>Members per set.</summary>
    public const int MaxMembers = 100_000;

    /// <summary>Bytes per member.</summary>
    public const int MaxMemberBytes = 64 * 1024;

    private static readonly ImmutableSortedDictionary<string, long> NoDots = ImmutableSortedDictionary.Create<string, long>(StringComparer.Ordinal);

    public static readonly OrSet Empty = new(NoDots, ImmutableSortedDictionary.Create<byte[], ImmutableSortedDictionary<string, long>>(OrdinalBytes.Instance));

    private OrSet(ImmutableSortedDictionary<string, long> clock, ImmutableSortedDictionary<byte[], ImmutableSortedDictionary<string, long>> members) =>
        (Clock, Members) = (clock, members);

    /// <summary>Adds seen, per actor.</summary>
    public ImmutableSortedDictionary<string, long> Clock { get; }

    /// <summary>Members (ordinal byte order) with the dots of the adds that hold them.</summary>
    public ImmutableSortedDictionary<byte[], ImmutableSortedDictionary<string, long>> Members { get; }

    public int Count => Members.Count;

    public bool Contains(byte[] member) => Members.ContainsKey(member);

    /// <summary>Adds <paramref name="member"/> as <paramref name="actor"/> (a new dot); refused past the bounds.</summary>
    public OrSet Add(string actor, byte[] member)
    {
        if (member.Length > MaxMemberBytes)
            throw new CrdtRefusedException($"a set member of {member.Length} bytes exceeds {MaxMemberBytes} bytes");
        if (!Members.ContainsKey(member) && Members.Count >= MaxMembers)
            throw new CrdtRefusedException($"the set already has {Members.Count} members (at most {MaxMembers})");
        long dot = checked(Clock.GetValueOrDefault(actor) + 1);
        return new OrSet(Clock.SetItem(actor, dot), Members.SetItem(member, NoDots.Add(actor, dot)));
    }

    /// <summary>Removes <paramref name="member"/> as far as this replica has seen it (its dots stay covered by the clock).</summary>
    public OrSet Remove(byte[] member) => Members.ContainsKey(member) ? new OrSet(Clock, Members.Remove(member)) : this;

    public static OrSet Merge(OrSet a, OrSet b)
    {
        var members = ImmutableSortedDictionary.CreateBuilder<byte[], ImmutableSortedDictionary<string, long>>(OrdinalBytes.Instance);
        foreach (var (member, dotsA) in a.Members)
        {
            var kept = Keep(dotsA, b.Members.GetValueOrDefault(member) ?? NoDots, b.Clock, a.Clock);
            if (kept.Count > 0)
                members[member] = kept;
        }
        foreach (var (member, dotsB) in b.Members)
        {
            if (a.Members.ContainsKey(member))
                continue;
            var kept = Keep(NoDots, dotsB, b.Clock, a.Clock);
            if (kept.Count > 0)
                members[member] = kept;
        }
        var clock = a.Clock.ToBuilder();
        foreach (var (actor, n) in b.Clock)
            clock[actor] = Math.Max(clock.GetValueOrDefault(actor), n);
        return new OrSet(clock.ToImmutable(), members.ToImmutable());
    }

    /// <summary>The dots of one member after a merge: held by both, or held by one and unseen by the other's clock.</summary>
    private static ImmutableSortedDictionary<string, long> Keep(ImmutableSortedDictionary<string, long> dotsA, ImmutableSortedDictionary<string, long> dotsB,
        ImmutableSortedDictionary<string, long> clockB, ImmutableSortedDictionary<string, long> clockA)
    {
        var kept = NoDots.ToBuilder();
        foreach (var (actor, n) in dotsA)
        {
            if ((dotsB.TryGetValue(actor, out long m) && m == n) || clockB.GetValueOrDefault(actor) < n)
                kept[actor] = n;
        }
        foreach (var (actor, n) in dotsB)
        {
            if (clockA.GetValueOrDefault(actor) < n && !(kept.TryGetValue(actor, out long k) && k >= n))
                kept[actor] = n;
        }
        return kept.ToImmutable();
    }

    /// <summary>
    /// u8 tag 'S', u8 version 1, i32 clock count, per actor { string id, i64 count }, i32 member
    /// count, per member (ordinal order) { bytes member, i32 dot count, per dot { string id, i64 count } }.
    /// </summary>
    public byte[] Encode()
    {
        var w = new CrdtWriter(Tag, Version);
        w.Dots(Clock);
        w.I32(Members.Count);
        foreach (var (member, dots) in Members)
        {
            w.Bytes(member);
            w.Dots(dots);
        }
        return w.ToArray();
    }


    public static OrSet Decode(ReadOnlySpan<byte> data)
    {
        var r = new CrdtReader(data, Tag, Version, "set");
        var clock = r.Dots("set");
        int count = r.Count(8);
        if (count > MaxMembers)
            throw new FormatException($"a set of {count} members (at most {MaxMembers})");
        var members = ImmutableSortedDictionary.CreateBuilder<byte[], ImmutableSortedDictionary<string, long>>(OrdinalBytes.Instance);
        byte[]? previous = null;
        for (int i = 0; i < count; i++)
        {
            byte[] member = r.Bytes();
            if (previous is not null && OrdinalBytes.Instance.Compare(previous, member) >= 0)
                throw new FormatException("set members out of order");
            var dots = r.Dots("set");
            if (dots.Count == 0 || dots.Any(d => clock.GetValueOrDefault(d.Key) < d.Value))
                throw new FormatException("a set member without dots, or with a dot its clock has not seen");
            members.Add(member, dots);
            previous = member;
        }
        r.End();
        return new OrSet(clock, members.ToImmutable());
    }


    public bool Equals(OrSet? other) =>
        other is not null && Clock.SequenceEqual(other.Clock) && Members.Count == other.Members.Count
        && Members.Zip(other.Members).All(p => p.First.Key.AsSpan().SequenceEqual(p.Second.Key) && p.First.Value.SequenceEqual(p.Second.Value));

    public override bool Equals(object? obj) => Equals(obj as OrSet);

    public override int GetHashCode() => HashCode.Combine(Clock.Count, Members.Count);

    public override string ToString() => "{" + string.Join(",", Members.Keys.Select(m => System.Text.Encoding.UTF8.GetString(m))) + "}";
}
