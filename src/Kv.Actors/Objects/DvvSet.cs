using System.Collections.Immutable;

namespace Kv.Actors.Objects;

/// <summary>
/// A dotted version vector set (Riak's dvvset): per actor id a counter and the values written by that
/// actor that are not yet dominated (newest first; value k of id i has dot (i, counter - k)), plus
/// anonymous values not yet given a dot. A write that carries the context of an earlier read
/// replaces exactly what that read saw; concurrent writes stay as siblings. Immutable.
/// </summary>
public sealed class DvvSet<T>
{
    private static readonly IEqualityComparer<T> Eq = EqualityComparer<T>.Default;

    /// <summary>One actor's counter and its surviving values, newest first.</summary>
    public sealed record Entry(string Id, long Counter, ImmutableArray<T> Values)
    {
        public bool Equals(Entry? other) => other is not null && Id == other.Id && Counter == other.Counter && Values.SequenceEqual(other.Values, Eq);

        public override int GetHashCode() => HashCode.Combine(Id, Counter, Values.Length);
    }

    public DvvSet(ImmutableArray<Entry> entries, ImmutableArray<T> anonymous)
    {
        Entries = entries;
        Anonymous = anonymous;
    }

    /// <summary>Entries sorted by id (ordinal).</summary>
    public ImmutableArray<Entry> Entries { get; }

    /// <summary>Values without a dot yet (a client's new value before a vnode stamps it).</summary>
    public ImmutableArray<T> Anonymous { get; }

    public static readonly DvvSet<T> Empty = new([], []);

    /// <summary>A new value with no causal context (a blind write).</summary>
    public static DvvSet<T> New(T value) => new([], [value]);

    /// <summary>A new value written with the context of an earlier read.</summary>
    public static DvvSet<T> New(VersionVector context, T value) =>
        new(context.Counters.Select(kv => new Entry(kv.Key, kv.Value, [])).ToImmutableArray(), [value]);

    /// <summary>Gives the client's single anonymous value a dot from actor <paramref name="id"/> (no server state).</summary>
    public static DvvSet<T> Create(DvvSet<T> client, string id) => new(Event(client.Entries, id, Single(client)), []);

    /// <summary>
    /// The coordinating vnode's write: sync the client's context with the stored set
    /// <paramref name="server"/> (dropping what the client had seen), then add the new value with a
    /// new dot from <paramref name="id"/>. Concurrent values survive as siblings.
    /// </summary>
    public static DvvSet<T> Update(DvvSet<T> client, DvvSet<T> server, string id)
    {
        var synced = Sync(new DvvSet<T>(client.Entries, []), server);
        return new DvvSet<T>(Event(synced.Entries, id, Single(client)), synced.Anonymous);
    }

    /// <summary>
    /// A write whose context is everything <paramref name="server"/> holds (last_write_wins): the
    /// same set as <c>Update(New(server.Join(), value), server, id)</c>, without building the
    /// version vector and the client set in between. Every dotted value is covered and goes; the new
    /// value takes the next dot of <paramref name="id"/>; anonymous values (never covered) stay.
    /// </summary>
    public static DvvSet<T> Overwrite(DvvSet<T> server, T value, string id)
    {
        var covered = server.Entries;
        for (int i = 0; i < covered.Length; i++)
        {
            if (!covered[i].Values.IsEmpty)
            {
                var b = ImmutableArray.CreateBuilder<Entry>(covered.Length);
                for (int k = 0; k < covered.Length; k++)
                    b.Add(covered[k].Values.IsEmpty ? covered[k] : covered[k] with { Values = [] });
                covered = b.MoveToImmutable();
                break;
            }
        }
        return new DvvSet<T>(Event(covered, id, value), server.Anonymous);
    }

    private static T Single(DvvSet<T> client) =>
        client.Anonymous.Length == 1 ? client.Anonymous[0] : throw new ArgumentException("a client write carries exactly one new value");

    private static ImmutableArray<Entry> Event(ImmutableArray<Entry> entries, string id, T value)
    {
        var b = ImmutableArray.CreateBuilder<Entry>(entries.Length + 1);
        bool done = false;
        foreach (var e in entries)
        {
            int c = string.CompareOrdinal(e.Id, id);
            if (!done && c == 0)
            {
                b.Add(e with { Counter = e.Counter + 1, Values = e.Values.Insert(0, value) });
                done = true;
                continue;
            }
            if (!done && c > 0)
            {
                b.Add(new Entry(id, 1, [value]));
                done = true;
            }
            b.Add(e);
        }
        if (!done)
            b.Add(new Entry(id, 1, [value]));
        return b.ToImmutable();
    }

    /// <summary>Merges two sets (replica sync, read repair): commutative, associative, idempotent.</summary>
    public static DvvSet<T> Sync(DvvSet<T> a, DvvSet<T> b)
    {
        ImmutableArray<T> anonymous;
        if (Less(a, b))
            anonymous = b.Anonymous;
        else if (Less(b, a))
            anonymous = a.Anonymous;
        else if (b.Anonymous.IsEmpty)
            anonymous = a.Anonymous;
        else
            anonymous = a.Anonymous.AddRange(b.Anonymous.Where(v => !a.Anonymous.Contains(v, Eq)));
        var entries = ImmutableArray.CreateBuilder<Entry>(a.Entries.Length + b.Entries.Length);
        int i = 0, j = 0;
        while (i < a.Entries.Length || j < b.Entries.Length)
        {
            if (j >= b.Entries.Length || (i < a.Entries.Length && string.CompareOrdinal(a.Entries[i].Id, b.Entries[j].Id) < 0))
                entries.Add(a.Entries[i++]);
            else if (i >= a.Entries.Length || string.CompareOrdinal(a.Entries[i].Id, b.Entries[j].Id) > 0)
                entries.Add(b.Entries[j++]);
            else
                entries.Add(Merge(a.Entries[i++], b.Entries[j++]));
        }
        return new DvvSet<T>(entries.ToImmutable(), anonymous);
    }

    private static Entry Merge(Entry x, Entry y)
    {
        long n1 = x.Counter, n2 = y.Counter;
        int l1 = x.Values.Length, l2 = y.Values.Length;
        if (n1 >= n2)
            return n1 - l1 >= n2 - l2 ? x : x with { Values = Take(x.Values, n1 - n2 + l2) };
        return n2 - l2 >= n1 - l1 ? y : y with { Values = Take(y.Values, n2 - n1 + l1) };
    }

    private static ImmutableArray<T> Take(ImmutableArray<T> values, long n) => n >= values.Length ? values : ImmutableArray.Create(values, 0, (int)n);

    /// <summary>The causal context of the set (what a read returns to the client).</summary>
    public VersionVector Join() => Entries.Length switch
    {
        0 => VersionVector.Empty,
        // The usual object (one writer): one node added, not a builder and an iterator.
        1 => new(VersionVector.Empty.Counters.Add(Entries[0].Id, Entries[0].Counter)),
        _ => new(Entries.ToImmutableSortedDictionary(e => e.Id, e => e.Counter, StringComparer.Ordinal)),
    };

    private T[]? _values;

    /// <summary>Every surviving value: anonymous ones, then per entry newest first (collected once: the set is immutable).</summary>
    public IReadOnlyList<T> Values => _values ??= Collect();

    private T[] Collect()
    {
        var all = new T[Size];
        Anonymous.CopyTo(all);
        int at = Anonymous.Length;
        foreach (var e in Entries)
        {
            e.Values.CopyTo(all, at);
            at += e.Values.Length;
        }
        return all;
    }

    /// <summary>Number of values (siblings).</summary>
    public int Size
    {
        get
        {
            int size = Anonymous.Length;
            foreach (Entry e in Entries)
                size += e.Values.Length;
            return size;
        }
    }

    /// <summary>True when the causal history of <paramref name="a"/> is strictly contained in that of <paramref name="b"/>.</summary>
    public static bool Less(DvvSet<T> a, DvvSet<T> b) => Greater(b.Entries, a.Entries);

    private static bool Greater(ImmutableArray<Entry> x, ImmutableArray<Entry> y)
    {
        bool strict = false;
        int i = 0, j = 0;
        while (true)
        {
            if (i >= x.Length && j >= y.Length)
                return strict;
            if (j >= y.Length)
                return true;
            if (i >= x.Length)
                return false;
            int c = string.CompareOrdinal(x[i].Id, y[j].Id);
            if (c == 0)
            {
                if (x[i].Counter < y[j].Counter)
                    return false;
                if (x[i].Counter > y[j].Counter)
                    strict = true;
                i++;
                j++;
            }
            else if (c < 0)
            {
                strict = true;
                i++;
            }
            else
            {
                return false;
            }
        }
    }

    /// <summary>Equality of entries and anonymous values (in order).</summary>
    public bool SameAs(DvvSet<T> other) => Entries.SequenceEqual(other.Entries) && Anonymous.SequenceEqual(other.Anonymous, Eq);

    public override string ToString() =>
        "{[" + string.Join(", ", Entries.Select(e => $"{{{e.Id},{e.Counter},[{string.Join(",", e.Values)}]}}")) + "],[" + string.Join(",", Anonymous) + "]}";
}
