using System.Collections.Immutable;

namespace Kv.Actors.Crdt;

/// <summary>
/// A list as a sequence CRDT: each element has a unique id (position, actor, count), the list is
/// the elements in id order, and removals are observed-removes (an OR-set keyed by the element
/// ids, with a version vector of the pushes seen). A push at the left takes the position one below
/// the smallest, at the right one above the largest; concurrent pushes at different replicas may
/// take the same position and are then ordered by actor id (a stable order every replica agrees
/// on, not the order in time). A pop removes the end element this replica sees: two concurrent
/// pops at different replicas can return the same element (the docs say so). Immutable.
/// </summary>
public sealed class OrList : IEquatable<OrList>
{
    internal const byte Tag = 0x4C; // 'L'
    private const byte Version = 1;

    /// <summary>Elements per list.</summary>
    public const int MaxElements = 100_000;

    /// <summary>Bytes per element.</summary>
    public const int MaxElementBytes = 64 * 1024;

    /// <summary>An element's id: its position, then the dot of the push that made it.</summary>
    public readonly record struct ElementId(long Position, string Actor, long Counter) : IComparable<ElementId>
    {
        public int CompareTo(ElementId other)
        {
            int c = Position.CompareTo(other.Position);
            if (c == 0)
                c = string.CompareOrdinal(Actor, other.Actor);
            return c != 0 ? c : Counter.CompareTo(other.Counter);
        }
    }

    private static readonly ImmutableSortedDictionary<string, long> NoDots = ImmutableSortedDictionary.Create<string, long>(StringComparer.Ordinal);

    public static readonly OrList Empty = new(NoDots, ImmutableSortedDictionary.Create<ElementId, byte[]>());

    private OrList(ImmutableSortedDictionary<string, long> clock, ImmutableSortedDictionary<ElementId, byte[]> elements) => (Clock, Elements) = (clock, elements);

    public ImmutableSortedDictionary<string, long> Clock { get; }

    /// <summary>The elements in list order.</summary>
    public ImmutableSortedDictionary<ElementId, byte[]> Elements { get; }

    public int Count => Elements.Count;

    public OrList Push(string actor, byte[] value, bool left)
    {
        if (value.Length > MaxElementBytes)
            throw new CrdtRefusedException($"a list element of {value.Length} bytes exceeds {MaxElementBytes} bytes");
        if (Elements.Count >= MaxElements)
            throw new CrdtRefusedException($"the list already has {Elements.Count} elements (at most {MaxElements})");
        long position = Elements.Count == 0 ? 0 : left ? checked(Elements.Keys.First().Position - 1) : checked(Elements.Keys.Last().Position + 1);
        long dot = checked(Clock.GetValueOrDefault(actor) + 1);
        return new OrList(Clock.SetItem(actor, dot), Elements.Add(new ElementId(position, actor, dot), value));
    }

    /// <summary>Removes the end element this replica sees; null when the list is empty.</summary>
    public OrList Pop(bool left, out byte[]? value)
    {
        if (Elements.Count == 0)
        {
            value = null;
            return this;
        }
        var end = left ? Elements.First() : Elements.Last();
        value = end.Value;
        return new OrList(Clock, Elements.Remove(end.Key));
    }

    /// <summary>Redis's LREM: removes up to |count| elements equal to <paramref name="value"/>, from the head (count &gt; 0), the tail (&lt; 0) or all (0).</summary>
    public OrList RemoveValue(long count, byte[] value, out long removed)
    {
        var order = count < 0 ? Elements.Reverse() : Elements;
        var gone = order.Where(e => e.Value.AsSpan().SequenceEqual(value)).Select(e => e.Key);
        if (count != 0)
            gone = gone.Take((int)Math.Min(Math.Abs(count == long.MinValue ? long.MaxValue : count), int.MaxValue));
        var list = gone.ToList();
        removed = list.Count;
        return list.Count == 0 ? this : new OrList(Clock, Elements.RemoveRange(list));
    }

    /// <summary>Redis's LRANGE: elements start..stop inclusive, negative indices from the end.</summary>
    public IReadOnlyList<byte[]> Range(long start, long stop)
    {
        long n = Elements.Count;
        if (start < 0)
            start = Math.Max(0, n + start);
        if (stop < 0)
            stop = n + stop;
        stop = Math.Min(stop, n - 1);
        if (start > stop || start >= n)
            return [];
        return Elements.Values.Skip((int)start).Take((int)(stop - start + 1)).ToList();
    }

    public static OrList Merge(OrList a, OrList b)
    {
        var elements = ImmutableSortedDictionary.CreateBuilder<ElementId, byte[]>();
        foreach (var (id, value) in a.Elements)
        {
            if (b.Elements.ContainsKey(id) || b.Clock.GetValueOrDefault(id.Actor) < id.Counter)
                elements[id] = value;
        }
        foreach (var (id, value) in b.Elements)
        {
            if (!a.Elements.ContainsKey(id) && a.Clock.GetValueOrDefault(id.Actor) < id.Counter)
                elements[id] = value;
        }
        var clock = a.Clock.ToBuilder();
        foreach (var (actor, n) in b.Clock)
            clock[actor] = Math.Max(clock.GetValueOrDefault(actor), n);
        return new OrList(clock.ToImmutable(), elements.ToImmutable());
    }

    /// <summary>u8 tag 'L', u8 version 1, dots (the clock), i32 count, per element (list order) { i64 position, string actor, i64 count, bytes value }.</summary>
    public byte[] Encode()
    {
        var w = new CrdtWriter(Tag, Version);
        w.I32(Clock.Count);
        foreach (var (actor, n) in Clock)
        {
            w.String(actor);
            w.I64(n);
        }
        w.I32(Elements.Count);
        foreach (var (id, value) in Elements)
        {
            w.I64(id.Position);
            w.String(id.Actor);
            w.I64(id.Counter);
            w.Bytes(value);
        }
        return w.ToArray();
    }

    public static OrList Decode(ReadOnlySpan<byte> data)
    {
        var r = new CrdtReader(data, Tag, Version, "list");
        int dots = r.Count(12);
        var clock = NoDots.ToBuilder();
        string? previous = null;
        for (int i = 0; i < dots; i++)
        {
            string actor = r.String();
            long n = r.I64();
            if (actor.Length == 0 || n < 1 || (previous is not null && string.CompareOrdinal(previous, actor) >= 0))
                throw new FormatException("bad dot in list state");
            clock.Add(actor, n);
            previous = actor;
        }
        int count = r.Count(24);
        if (count > MaxElements)
            throw new FormatException($"a list of {count} elements (at most {MaxElements})");
        var elements = ImmutableSortedDictionary.CreateBuilder<ElementId, byte[]>();
        ElementId? last = null;
        for (int i = 0; i < count; i++)
        {
            var id = new ElementId(r.I64(), r.String(), r.I64());
            if (id.Actor.Length == 0 || id.Counter < 1 || clock.GetValueOrDefault(id.Actor) < id.Counter || (last is { } l && l.CompareTo(id) >= 0))
                throw new FormatException("bad or out-of-order list element id");
            elements.Add(id, r.Bytes());
            last = id;
        }
        r.End();
        return new OrList(clock.ToImmutable(), elements.ToImmutable());
    }

    public bool Equals(OrList? other) =>
        other is not null && Clock.SequenceEqual(other.Clock) && Elements.Count == other.Elements.Count
        && Elements.Zip(other.Elements).All(p => p.First.Key.Equals(p.Second.Key) && p.First.Value.AsSpan().SequenceEqual(p.Second.Value));

    public override bool Equals(object? obj) => Equals(obj as OrList);

    public override int GetHashCode() => HashCode.Combine(Clock.Count, Elements.Count);
}
