using System.Collections.Immutable;

namespace Kv.Actors.Crdt;

/// <summary>
/// A hash: an observed-remove map (Riak's map, simplified) from fields to a register (string value,
/// last writer wins) or a counter. Field presence is an add-wins OR-set of dots: hset and hincr
/// take a new dot for the field, hdel drops the dots the coordinating replica has seen, so a
/// concurrent hset or hincr keeps the field. A counter field's counts are never thrown away (a
/// PN-counter merges by per-actor maximum): hdel records the counts it saw as the field's base, and
/// the field's value is its counts above that base, so a removed counter starts again from 0 and a
/// concurrent increment survives the remove. Values merge last-writer-wins; hdel clears a value with
/// a newer empty register, so deleted fields keep a small trace (bounded by <see cref="MaxFields"/>,
/// which counts them). Immutable.
/// </summary>
public sealed class OrMap : IEquatable<OrMap>
{
    internal const byte Tag = 0x48; // 'H'
    private const byte Version = 1;

    /// <summary>Fields per hash (present or holding counts).</summary>
    public const int MaxFields = 10_000;

    /// <summary>Bytes per field name.</summary>
    public const int MaxFieldBytes = 1024;

    /// <summary>One field: its dots (empty: not present), its register value, its counter and the counts removed.</summary>
    public sealed record Field(ImmutableSortedDictionary<string, long> Dots, TypedRegister? Register, PnCounter Counter, PnCounter Base)
    {
        public bool Present => Dots.Count > 0;

        /// <summary>Whether the field's register holds a value (not absent, not cleared by an hdel).</summary>
        public bool HasValue => Register is { Actor.Length: > 0 };

        /// <summary>The counter's value above its base.</summary>
        public Int128 CounterValue => Counter.WideValue - Base.WideValue;

        /// <summary>Equality by content.</summary>
        public bool Same(Field other) =>
            Dots.SequenceEqual(other.Dots) && Equals(Register, other.Register) && Counter.Equals(other.Counter) && Base.Equals(other.Base);
    }

    private static readonly ImmutableSortedDictionary<string, long> NoDots = ImmutableSortedDictionary.Create<string, long>(StringComparer.Ordinal);

    public static readonly OrMap Empty = new(NoDots, ImmutableSortedDictionary.Create<byte[], Field>(OrdinalBytes.Instance));

    private OrMap(ImmutableSortedDictionary<string, long> clock, ImmutableSortedDictionary<byte[], Field> fields) => (Clock, Fields) = (clock, fields);

    public ImmutableSortedDictionary<string, long> Clock { get; }

    /// <summary>Every field the hash holds state for (present or not), in ordinal byte order.</summary>
    public ImmutableSortedDictionary<byte[], Field> Fields { get; }

    /// <summary>The present fields.</summary>
    public IEnumerable<KeyValuePair<byte[], Field>> Present => Fields.Where(f => f.Value.Present);

    /// <summary>A present field's value as text: its register's value, else its counter's; null when absent.</summary>
    public string? Get(byte[] field) =>
        Fields.TryGetValue(field, out var f) && f.Present ? Text(f) : null;

    public static string Text(Field f) =>
        f.HasValue ? f.Register!.Text : f.CounterValue.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private Field FieldOrNew(byte[] field, string what)
    {
        if (field.Length is 0 or > MaxFieldBytes)
            throw new CrdtRefusedException($"a hash field must be 1..{MaxFieldBytes} bytes (got {field.Length})");
        if (Fields.TryGetValue(field, out var f))
            return f;
        if (Fields.Count >= MaxFields)
            throw new CrdtRefusedException($"the hash already holds {Fields.Count} fields (at most {MaxFields}); cannot {what}");
        return new Field(NoDots, null, PnCounter.Empty, PnCounter.Empty);
    }

    private (ImmutableSortedDictionary<string, long> Clock, ImmutableSortedDictionary<string, long> Dots) NewDot(string actor)
    {
        long dot = checked(Clock.GetValueOrDefault(actor) + 1);
        return (Clock.SetItem(actor, dot), NoDots.Add(actor, dot));
    }

    /// <summary>hset: the field holds <paramref name="value"/> (a string register); refused on a field that counts.</summary>
    public OrMap Set(string actor, byte[] field, byte[] value, long nowMs)
    {
        var f = FieldOrNew(field, "add a field");
        if (f.Present && !f.HasValue)
            throw new CrdtRefusedException("the field holds a counter (hincr); hdel it first to store a value in it");
        if (value.Length > TypedRegister.MaxValueBytes)
            throw new CrdtRefusedException($"a hash value of {value.Length} bytes exceeds {TypedRegister.MaxValueBytes} bytes");
        long ts = f.Register is { } r ? Math.Max(nowMs, r.Timestamp + 1) : nowMs;
        var (clock, dots) = NewDot(actor);
        return new OrMap(clock, Fields.SetItem(field, f with { Dots = dots, Register = new TypedRegister(RegisterType.String, value, ts, actor) }));
    }

    /// <summary>hincr: the field's counter gains <paramref name="by"/>; refused on a field that holds a value, or past the range of a long.</summary>
    public OrMap Increment(string actor, byte[] field, long by, out long value)
    {
        var f = FieldOrNew(field, "add a field");
        if (f.Present && f.HasValue)
            throw new CrdtRefusedException("the field holds a value (hset), not a counter");
        if (by == long.MinValue)
            throw new CrdtRefusedException($"an increment must be within ±{long.MaxValue}");
        Int128 next = (f.Present ? f.CounterValue : 0) + by;
        if (next > long.MaxValue || next < long.MinValue)
            throw new CrdtRefusedException($"the field's counter would overflow: {(f.Present ? f.CounterValue : 0)} + {by} is outside {long.MinValue}..{long.MaxValue}");
        // An absent field starts again from 0: what it counted before is its base.
        var baseCounts = f.Present ? f.Base : PnCounter.Merge(f.Base, f.Counter);
        var counter = f.Counter.IncrementUnchecked(actor, by);
        var (clock, dots) = NewDot(actor);
        value = (long)next;
        return new OrMap(clock, Fields.SetItem(field, new Field(dots, f.Register, counter, baseCounts)));
    }

    /// <summary>hdel: the field goes, as far as this replica has seen it (a counter keeps its counts as the base).</summary>
    public OrMap Remove(byte[] field)
    {
        if (!Fields.TryGetValue(field, out var f) || !f.Present)
            return this;
        // A value is cleared by a newer register without an actor (merged last-writer-wins like any
        // value, so a copy of the old value cannot come back); counts become the base.
        var cleared = f.Register is { } r ? new TypedRegister(RegisterType.String, [], checked(r.Timestamp + 1), "") : null;
        var removed = f with { Dots = NoDots, Register = cleared, Base = PnCounter.Merge(f.Base, f.Counter) };
        // Nothing left (a field that never held a value nor counted anything): no trace, as a merge would leave it.
        bool empty = cleared is null && removed.Counter.Entries.Count == 0;
        return new OrMap(Clock, empty ? Fields.Remove(field) : Fields.SetItem(field, removed));
    }

    public static OrMap Merge(OrMap a, OrMap b)
    {
        var fields = ImmutableSortedDictionary.CreateBuilder<byte[], Field>(OrdinalBytes.Instance);
        foreach (var name in a.Fields.Keys.Concat(b.Fields.Keys).Distinct(ByteComparer))
        {
            var fa = a.Fields.GetValueOrDefault(name);
            var fb = b.Fields.GetValueOrDefault(name);
            var dotsA = fa?.Dots ?? NoDots;
            var dotsB = fb?.Dots ?? NoDots;
            var dots = NoDots.ToBuilder();
            foreach (var (actor, n) in dotsA)
            {
                if ((dotsB.TryGetValue(actor, out long m) && m == n) || b.Clock.GetValueOrDefault(actor) < n)
                {
                    dots[actor] = n;
                }
            }
            foreach (var (actor, n) in dotsB)
            {
                if ((dotsA.TryGetValue(actor, out long m) && m == n) || a.Clock.GetValueOrDefault(actor) < n)
                {
                    if (!(dots.TryGetValue(actor, out long k) && k >= n))
                        dots[actor] = n;
                }
            }
            var ra = fa?.Register;
            var rb = fb?.Register;
            var register = ra is null ? rb : rb is null ? ra : TypedRegister.Merge(ra, rb);
            var counter = PnCounter.Merge(fa?.Counter ?? PnCounter.Empty, fb?.Counter ?? PnCounter.Empty);
            var baseCounts = PnCounter.Merge(fa?.Base ?? PnCounter.Empty, fb?.Base ?? PnCounter.Empty);
            if (dots.Count == 0 && counter.Entries.Count == 0 && register is null)
                continue;
            fields[name] = new Field(dots.ToImmutable(), register, counter, baseCounts);
        }
        var clock = a.Clock.ToBuilder();
        foreach (var (actor, n) in b.Clock)
            clock[actor] = Math.Max(clock.GetValueOrDefault(actor), n);
        return new OrMap(clock.ToImmutable(), fields.ToImmutable());
    }

    private static readonly IEqualityComparer<byte[]> ByteComparer = Objects.ByteArrayComparer.Instance;

    /// <summary>
    /// u8 tag 'H', u8 version 1, dots (the clock), i32 field count, per field (ordinal order)
    /// { bytes name, dots, u8 has register, [register encoding as bytes], counter encoding as bytes,
    /// base encoding as bytes }; dots are i32 count, per actor { string id, i64 count }.
    /// </summary>
    public byte[] Encode()
    {
        var w = new CrdtWriter(Tag, Version);
        w.Dots(Clock);
        w.I32(Fields.Count);
        foreach (var (name, f) in Fields)
        {
            w.Bytes(name);
            w.Dots(f.Dots);
            w.U8((byte)(f.Register is null ? 0 : 1));
            if (f.Register is { } r)
                w.Bytes(r.Encode());
            w.Bytes(f.Counter.Encode());
            w.Bytes(f.Base.Encode());
        }
        return w.ToArray();
    }


    public static OrMap Decode(ReadOnlySpan<byte> data)
    {
        var r = new CrdtReader(data, Tag, Version, "hash");
        var clock = r.Dots("hash");
        int count = r.Count(8);
        if (count > MaxFields)
            throw new FormatException($"a hash of {count} fields (at most {MaxFields})");
        var fields = ImmutableSortedDictionary.CreateBuilder<byte[], Field>(OrdinalBytes.Instance);
        byte[]? previous = null;
        for (int i = 0; i < count; i++)
        {
            byte[] name = r.Bytes();
            if (previous is not null && OrdinalBytes.Instance.Compare(previous, name) >= 0)
                throw new FormatException("hash fields out of order");
            var dots = r.Dots("hash");
            if (dots.Any(d => clock.GetValueOrDefault(d.Key) < d.Value))
                throw new FormatException("a hash field with a dot its clock has not seen");
            byte has = r.U8();
            if (has > 1)
                throw new FormatException("bad register flag in hash state");
            var register = has == 1 ? TypedRegister.Decode(r.Bytes()) : null;
            var counter = PnCounter.Decode(r.Bytes());
            var baseCounts = PnCounter.Decode(r.Bytes());
            fields.Add(name, new Field(dots, register, counter, baseCounts));
            previous = name;
        }
        r.End();
        return new OrMap(clock, fields.ToImmutable());
    }


    public bool Equals(OrMap? other) =>
        other is not null && Clock.SequenceEqual(other.Clock) && Fields.Count == other.Fields.Count
        && Fields.Zip(other.Fields).All(p => p.First.Key.AsSpan().SequenceEqual(p.Second.Key) && p.First.Value.Same(p.Second.Value));

    public override bool Equals(object? obj) => Equals(obj as OrMap);

    public override int GetHashCode() => HashCode.Combine(Clock.Count, Fields.Count);
}
