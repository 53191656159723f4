using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Crdt;

namespace Kv.Client;

/// <summary>A register's value with its type (string, int or float).</summary>
public sealed record KvRegister(RegisterType Type, string Value)
{
    public string TypeName => TypedRegister.Name(Type);
}

/// <summary>
/// The CRDT data types (namespaces with kv.namespaces.NAME.datatype = counter | set | register | hash | list):
/// each call is one update applied by a coordinating replica and merged everywhere; reads merge
/// the replicas' states and never show siblings. A call of the wrong kind for the namespace is an
/// <see cref="InvalidRequestException"/> and stores nothing. docs/data-api/data-types.md.
/// </summary>
public sealed partial class KvClient
{
    private Task<UpdateSucceeded> Update(string ns, string key, CrdtOp op, RequestOptions? options) =>
        Call<UpdateSucceeded>(ClientCall.For(ns, key, op, options, Options));

    /// <summary>Adds <paramref name="by"/> (default 1; negative subtracts) to a counter; returns its new value (as the coordinating replica has it).</summary>
    public async Task<long> IncrementAsync(string ns, string key, long by = 1, RequestOptions? options = null) =>
        (await Update(ns, key, CrdtOp.Increment(by), options).ConfigureAwait(false)).Number;

    /// <summary>Subtracts <paramref name="by"/> (default 1) from a counter; returns its new value.</summary>
    public Task<long> DecrementAsync(string ns, string key, long by = 1, RequestOptions? options = null) =>
        by == long.MinValue ? Task.FromException<long>(new InvalidRequestException($"a decrement must be within ±{long.MaxValue}")) : IncrementAsync(ns, key, -by, options);

    /// <summary>A counter's value (0 when it was never incremented).</summary>
    public async Task<long> GetCounterAsync(string ns, string key, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.Counter, options).ConfigureAwait(false);
        if (state is not PnCounter c)
            return 0;
        var value = c.WideValue;
        return value >= long.MinValue && value <= long.MaxValue
            ? (long)value
            : throw new KvException($"{ns}/{key} = {value}: concurrent updates took the counter outside the range of a 64-bit integer");
    }

    /// <summary>Adds members to a set; returns how many were not members before (at the coordinating replica).</summary>
    public async Task<long> SetAddAsync(string ns, string key, IEnumerable<string> members, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.SetAdd, 0, members.Select(Encoding.UTF8.GetBytes).ToList()), options).ConfigureAwait(false)).Number;

    public Task<long> SetAddAsync(string ns, string key, string member, RequestOptions? options = null) => SetAddAsync(ns, key, [member], options);

    /// <summary>Removes members from a set (those the coordinating replica has seen; a concurrent add wins); returns how many were members there.</summary>
    public async Task<long> SetRemoveAsync(string ns, string key, IEnumerable<string> members, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.SetRemove, 0, members.Select(Encoding.UTF8.GetBytes).ToList()), options).ConfigureAwait(false)).Number;

    public Task<long> SetRemoveAsync(string ns, string key, string member, RequestOptions? options = null) => SetRemoveAsync(ns, key, [member], options);

    /// <summary>A set's members in ordinal byte order (empty when it has none).</summary>
    public async Task<IReadOnlyList<string>> SetMembersAsync(string ns, string key, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.Set, options).ConfigureAwait(false);
        return state is OrSet s ? s.Members.Keys.Select(m => Encoding.UTF8.GetString(m)).ToList() : [];
    }

    public async Task<bool> SetIsMemberAsync(string ns, string key, string member, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.Set, options).ConfigureAwait(false);
        return state is OrSet s && s.Contains(Encoding.UTF8.GetBytes(member));
    }

    public async Task<int> SetSizeAsync(string ns, string key, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.Set, options).ConfigureAwait(false);
        return state is OrSet s ? s.Count : 0;
    }

    /// <summary>Writes a register's value, checked for its type (string, int or float) by the cluster.</summary>
    public async Task RegisterSetAsync(string ns, string key, string value, string type = "string", RequestOptions? options = null) =>
        await Update(ns, key, new CrdtOp(CrdtOpKind.RegisterSet, 0, [Encoding.UTF8.GetBytes(value)], type), options).ConfigureAwait(false);

    /// <summary>A register's value and type; null when it was never written.</summary>
    public async Task<KvRegister?> RegisterGetAsync(string ns, string key, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.Register, options).ConfigureAwait(false);
        return state is TypedRegister r ? new KvRegister(r.Type, r.Text) : null;
    }

    // ---- hashes ----

    /// <summary>Sets fields to string values (<paramref name="fields"/> in order); returns how many fields were new.</summary>
    public async Task<long> HashSetAsync(string ns, string key, IEnumerable<KeyValuePair<string, string>> fields, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.HashSet, 0, fields.SelectMany(f => new[] { Encoding.UTF8.GetBytes(f.Key), Encoding.UTF8.GetBytes(f.Value) }).ToList()), options).ConfigureAwait(false)).Number;

    public Task<long> HashSetAsync(string ns, string key, string field, string value, RequestOptions? options = null) =>
        HashSetAsync(ns, key, [KeyValuePair.Create(field, value)], options);

    /// <summary>Deletes fields (as far as the coordinating replica has seen them; a concurrent hset or hincr keeps the field); returns how many were present there.</summary>
    public async Task<long> HashDeleteAsync(string ns, string key, IEnumerable<string> fields, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.HashDelete, 0, fields.Select(Encoding.UTF8.GetBytes).ToList()), options).ConfigureAwait(false)).Number;

    /// <summary>Adds <paramref name="by"/> to a field's counter; returns its new value.</summary>
    public async Task<long> HashIncrementAsync(string ns, string key, string field, long by = 1, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.HashIncrement, by, [Encoding.UTF8.GetBytes(field)]), options).ConfigureAwait(false)).Number;

    /// <summary>A field's value (a counter field's as its integer); null when absent.</summary>
    public async Task<string?> HashGetAsync(string ns, string key, string field, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.Hash, options).ConfigureAwait(false);
        return state is OrMap m ? m.Get(Encoding.UTF8.GetBytes(field)) : null;
    }

    /// <summary>Every present field with its value, in ordinal byte order of the fields.</summary>
    public async Task<IReadOnlyList<KeyValuePair<string, string>>> HashGetAllAsync(string ns, string key, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.Hash, options).ConfigureAwait(false);
        return state is OrMap m ? m.Present.Select(f => KeyValuePair.Create(Encoding.UTF8.GetString(f.Key), OrMap.Text(f.Value))).ToList() : [];
    }

    // ---- lists ----

    /// <summary>Pushes values at the head (one after another, as Redis's LPUSH: the last ends up first); returns the list's length at the coordinating replica.</summary>
    public async Task<long> ListPushLeftAsync(string ns, string key, IEnumerable<string> values, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.ListPushLeft, 0, values.Select(Encoding.UTF8.GetBytes).ToList()), options).ConfigureAwait(false)).Number;

    /// <summary>Pushes values at the tail; returns the list's length at the coordinating replica.</summary>
    public async Task<long> ListPushRightAsync(string ns, string key, IEnumerable<string> values, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.ListPushRight, 0, values.Select(Encoding.UTF8.GetBytes).ToList()), options).ConfigureAwait(false)).Number;

    /// <summary>Removes and returns the head element (null: empty). Two concurrent pops may return the same element (see the docs).</summary>
    public async Task<string?> ListPopLeftAsync(string ns, string key, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.ListPopLeft, 0, []), options).ConfigureAwait(false)).Result is { } b ? Encoding.UTF8.GetString(b) : null;

    /// <summary>Removes and returns the tail element (null: empty).</summary>
    public async Task<string?> ListPopRightAsync(string ns, string key, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.ListPopRight, 0, []), options).ConfigureAwait(false)).Result is { } b ? Encoding.UTF8.GetString(b) : null;

    /// <summary>Removes up to |count| elements equal to <paramref name="value"/> (from the head if count &gt; 0, the tail if &lt; 0, all if 0); returns how many.</summary>
    public async Task<long> ListRemoveAsync(string ns, string key, long count, string value, RequestOptions? options = null) =>
        (await Update(ns, key, new CrdtOp(CrdtOpKind.ListRemove, count, [Encoding.UTF8.GetBytes(value)]), options).ConfigureAwait(false)).Number;

    /// <summary>Elements start..stop inclusive (negative: from the end), as Redis's LRANGE.</summary>
    public async Task<IReadOnlyList<string>> ListRangeAsync(string ns, string key, long start = 0, long stop = -1, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.List, options).ConfigureAwait(false);
        return state is OrList l ? l.Range(start, stop).Select(b => Encoding.UTF8.GetString(b)).ToList() : [];
    }

    public async Task<int> ListLengthAsync(string ns, string key, RequestOptions? options = null)
    {
        var state = await ReadStateAsync(ns, key, Datatype.List, options).ConfigureAwait(false);
        return state is OrList l ? l.Count : 0;
    }

    /// <summary>The merged state of a CRDT value (null when not found); an error when it holds another type.</summary>
    private async Task<object?> ReadStateAsync(string ns, string key, Datatype expected, RequestOptions? options)
    {
        var obj = await GetAsync(ns, key, options).ConfigureAwait(false);
        if (!obj.Found)
            return null;
        var state = CrdtState(obj);
        if (state is null || state.Value.Type != expected)
            throw new InvalidRequestException($"{ns}/{key} holds {(state is null ? "a plain value" : "a " + CrdtValues.Name(state.Value.Type))}, not a {CrdtValues.Name(expected)}");
        return state.Value.State;
    }

    /// <summary>The data type and merged state of a value read with <see cref="GetAsync"/>; null for an ordinary value.</summary>
    public static (Datatype Type, object State)? CrdtState(KvObject obj)
    {
        object? state = null;
        Datatype type = Datatype.None;
        foreach (var v in obj.Siblings)
        {
            var t = CrdtValues.Of(v.ContentType);
            if (t == Datatype.None || (type != Datatype.None && t != type))
                return null;
            type = t;
            object decoded;
            try
            {
                decoded = CrdtValues.Decode(t, v.Value);
            }
            catch (FormatException e)
            {
                throw new KvException($"{obj.Namespace}/{obj.Key}: a {CrdtValues.Name(t)} state that does not decode: {e.Message}");
            }
            state = state is null ? decoded : CrdtValues.Merge(state, decoded);
        }
        return state is null ? null : (type, state);
    }

    /// <summary>A CRDT value in its plain form: a counter's integer; a set's members, one a line; a register's value; a hash's FIELD&lt;TAB&gt;VALUE lines; a list's elements, one a line.</summary>
    public static string PlainText(Datatype type, object state) => state switch
    {
        PnCounter c => c.WideValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        OrSet s => string.Concat(s.Members.Keys.Select(m => Encoding.UTF8.GetString(m) + "\n")).TrimEnd('\n'),
        TypedRegister r => r.Text,
        OrMap m => string.Join("\n", m.Present.Select(f => Encoding.UTF8.GetString(f.Key) + "\t" + OrMap.Text(f.Value))),
        OrList l => string.Join("\n", l.Elements.Values.Select(v => Encoding.UTF8.GetString(v))),
        _ => throw new ArgumentException($"not a {CrdtValues.Name(type)} state"),
    };
}
