using System.Collections.Immutable;

namespace Kv.Actors.Crdt;

/// <summary>
/// A PN-counter: per actor the sum of its increments (P) and of its decrements (N), both never
/// negative and only growing; the value is ΣP − ΣN. Merge takes each actor's larger P and larger
/// N (commutative, associative, idempotent). An actor is a coordinating vnode (see
/// docs/data-api/data-types.md for why the number of actors stays bounded). Immutable.
/// </summary>
public sealed class PnCounter : IEquatable<PnCounter>
{
    internal const byte Tag = 0x43; // 'C'
    private const byte Version = 1;

    public static readonly PnCounter Empty = new(ImmutableSortedDictionary.Create<string, (long P, long N)>(StringComparer.Ordinal));

    private PnCounter(ImmutableSortedDictionary<string, (long P, long N)> entries) => Entries = entries;

    /// <summary>Per actor: increments and decrements so far.</summary>
    public ImmutableSortedDictionary<string, (long P, long N)> Entries { get; }

    /// <summary>The exact value (ΣP − ΣN may leave the range of a long after concurrent updates; see <see cref="Value"/>).</summary>
    public Int128 WideValue
    {
        get
        {
            Int128 v = 0;
            foreach (var (_, (p, n)) in Entries)
                v += (Int128)p - n;
            return v;
        }
    }

    /// <summary>The value; an <see cref="OverflowException"/> if concurrent updates took it out of the range of a long.</summary>
    public long Value => checked((long)WideValue);

    /// <summary>
    /// Adds <paramref name="by"/> (negative: subtracts) as <paramref name="actor"/>. Refused with a
    /// <see cref="CrdtRefusedException"/> when the value, or the actor's own total, would leave the
    /// range of a long.
    /// </summary>
    public PnCounter Increment(string actor, long by)
    {
        if (by == long.MinValue)
            throw new CrdtRefusedException($"an increment must be within ±{long.MaxValue}");
        Int128 next = WideValue + by;
        if (next > long.MaxValue || next < long.MinValue)
            throw new CrdtRefusedException($"the counter would overflow: {WideValue} + {by} is outside {long.MinValue}..{long.MaxValue}");
        if (by == 0)
            return this;
        var (p, n) = Entries.GetValueOrDefault(actor);
        try
        {
            if (by > 0)
                p = checked(p + by);
            else
                n = checked(n - by);
        }
        catch (OverflowException)
        {
            throw new CrdtRefusedException("this replica's share of the counter would overflow (more than 2^63 - 1 added or taken away in total)");
        }
        return new PnCounter(Entries.SetItem(actor, (p, n)));
    }

    /// <summary>Adds <paramref name="by"/> to the actor's own totals only (a caller checks the value's range, e.g. a hash field's above its base).</summary>
    internal PnCounter IncrementUnchecked(string actor, long by)
    {
        if (by == 0)
            return this;
        var (p, n) = Entries.GetValueOrDefault(actor);
        try
        {
            if (by > 0)
                p = checked(p + by);
            else
                n = checked(n - by);
        }
        catch (OverflowException)
        {
            throw new CrdtRefusedException("this replica's share of the counter would overflow (more than 2^63 - 1 added or taken away in total)");
        }
        return new PnCounter(Entries.SetItem(actor, (p, n)));
    }

    public static PnCounter Merge(PnCounter a, PnCounter b)
    {
        var merged = a.Entries.ToBuilder();
        foreach (var (actor, (p, n)) in b.Entries)
        {
            merged[actor] = merged.TryGetValue(actor, out var mine) ? (Math.Max(mine.P, p), Math.Max(mine.N, n)) : (p, n);
        }
        return new PnCounter(merged.ToImmutable());
    }

    /// <summary>u8 tag 'C', u8 version 1, i32 count, per actor (ordinal order) { string id, i64 P, i64 N }.</summary>
    public byte[] Encode()
    {
        var w = new CrdtWriter(Tag, Version);
        w.I32(Entries.Count);
        foreach (var (actor, (p, n)) in Entries)
        {
            w.String(actor);
            w.I64(p);
            w.I64(n);
        }
        return w.ToArray();
    }

    public static PnCounter Decode(ReadOnlySpan<byte> data)
    {
        var r = new CrdtReader(data, Tag, Version, "counter");
        int count = r.Count(20);
        var b = ImmutableSortedDictionary.CreateBuilder<string, (long, long)>(StringComparer.Ordinal);
        string? previous = null;
        for (int i = 0; i < count; i++)
        {
            string actor = r.String();
            long p = r.I64(), n = r.I64();
            if (actor.Length == 0 || (previous is not null && string.CompareOrdinal(previous, actor) >= 0))
                throw new FormatException("counter actors empty or out of order");
            if (p < 0 || n < 0)
                throw new FormatException("a negative counter entry");
            b.Add(actor, (p, n));
            previous = actor;
        }
        r.End();
        return new PnCounter(b.ToImmutable());
    }

    public bool Equals(PnCounter? other) => other is not null && Entries.SequenceEqual(other.Entries);

    public override bool Equals(object? obj) => Equals(obj as PnCounter);

    public override int GetHashCode() => Entries.Count;

    public override string ToString() => WideValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>An operation the data type cannot apply (overflow, bad argument, too big): refused, nothing stored.</summary>
public sealed class CrdtRefusedException(string message) : Exception(message);
