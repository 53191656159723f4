using Kv.Actors.Objects;

namespace Kv.Actors.Crdt;

/// <summary>A namespace's data type (kv.namespaces.NAME.datatype): none stores opaque values with siblings.</summary>
public enum Datatype
{
    None = 0,
    Counter = 1,
    Set = 2,
    Register = 3,
    Hash = 4,
    List = 5,
}

/// <summary>What an update does.</summary>
public enum CrdtOpKind
{
    /// <summary>Counter: add <see cref="CrdtOp.Amount"/> (negative: subtract).</summary>
    Increment = 1,

    /// <summary>Set: add every item.</summary>
    SetAdd = 2,

    /// <summary>Set: remove every item (as far as the coordinating replica has seen it).</summary>
    SetRemove = 3,

    /// <summary>Register: set the value (the one item) with the type <see cref="CrdtOp.ValueType"/>.</summary>
    RegisterSet = 4,

    /// <summary>Hash: set fields to values (items: field, value, field, value, ...).</summary>
    HashSet = 5,

    /// <summary>Hash: delete fields (items), as far as the coordinating replica has seen them.</summary>
    HashDelete = 6,

    /// <summary>Hash: add <see cref="CrdtOp.Amount"/> to the counter of a field (the one item).</summary>
    HashIncrement = 7,

    /// <summary>List: push the items at the head, one after another (Redis's LPUSH: the last item ends first).</summary>
    ListPushLeft = 8,

    /// <summary>List: push the items at the tail.</summary>
    ListPushRight = 9,

    /// <summary>List: remove and return the head element.</summary>
    ListPopLeft = 10,

    /// <summary>List: remove and return the tail element.</summary>
    ListPopRight = 11,

    /// <summary>List: remove up to |<see cref="CrdtOp.Amount"/>| elements equal to the one item (Redis's LREM).</summary>
    ListRemove = 12,
}

/// <summary>An update of a CRDT value.</summary>
public sealed record CrdtOp(CrdtOpKind Kind, long Amount, IReadOnlyList<byte[]> Items, string ValueType = "")
{
    /// <summary>The data type the operation needs.</summary>
    public Datatype Datatype => Kind switch
    {
        CrdtOpKind.Increment => Datatype.Counter,
        CrdtOpKind.SetAdd or CrdtOpKind.SetRemove => Datatype.Set,
        CrdtOpKind.RegisterSet => Datatype.Register,
        CrdtOpKind.HashSet or CrdtOpKind.HashDelete or CrdtOpKind.HashIncrement => Datatype.Hash,
        CrdtOpKind.ListPushLeft or CrdtOpKind.ListPushRight or CrdtOpKind.ListPopLeft or CrdtOpKind.ListPopRight or CrdtOpKind.ListRemove => Datatype.List,
        _ => Datatype.None,
    };

    public static CrdtOp Increment(long by) => new(CrdtOpKind.Increment, by, []);

    public override string ToString() => $"{Kind}({Amount}, {Items.Count} items)";
}

/// <summary>
/// The CRDT values as they are stored: a sibling whose content type names the data type
/// (application/vnd.kv.crdt.counter|set|register) and whose value is the state's encoding. Any
/// replica can merge the siblings of such an object into one state without the namespace's settings.
/// </summary>
public static class CrdtValues
{
    public const string ContentTypePrefix = "application/vnd.kv.crdt.";

    /// <summary>Operations per request.</summary>
    public const int MaxItemsPerOp = 1000;

    public static string Name(Datatype t) => t.ToString().ToLowerInvariant();

    public static Datatype Parse(string name) => name.ToLowerInvariant() switch
    {
        "none" or "" => Datatype.None,
        "counter" => Datatype.Counter,
        "set" => Datatype.Set,
        "register" => Datatype.Register,
        "hash" => Datatype.Hash,
        "list" => Datatype.List,
        _ => throw new ArgumentException($"unknown datatype '{name}' (none, counter, set, register, hash, list)"),
    };

    public static string ContentType(Datatype t) => ContentTypePrefix + Name(t);

    /// <summary>The data type of a stored value's content type (None for an ordinary value).</summary>
    public static Datatype Of(string contentType) => contentType switch
    {
        ContentTypePrefix + "counter" => Datatype.Counter,
        ContentTypePrefix + "set" => Datatype.Set,
        ContentTypePrefix + "register" => Datatype.Register,
        ContentTypePrefix + "hash" => Datatype.Hash,
        ContentTypePrefix + "list" => Datatype.List,
        _ => Datatype.None,
    };

    public static object Empty(Datatype t) => t switch
    {
        Datatype.Counter => PnCounter.Empty,
        Datatype.Set => OrSet.Empty,
        Datatype.Register => new TypedRegister(RegisterType.String, [], long.MinValue, ""),
        Datatype.Hash => OrMap.Empty,
        Datatype.List => OrList.Empty,
        _ => throw new ArgumentException($"no state for datatype {t}"),
    };

    public static object Decode(Datatype t, ReadOnlySpan<byte> data) => t switch
    {
        Datatype.Counter => PnCounter.Decode(data),
        Datatype.Set => OrSet.Decode(data),
        Datatype.Register => TypedRegister.Decode(data),
        Datatype.Hash => OrMap.Decode(data),
        Datatype.List => OrList.Decode(data),
        _ => throw new FormatException($"no state for datatype {t}"),
    };

    public static byte[] Encode(object state) => state switch
    {
        PnCounter c => c.Encode(),
        OrSet s => s.Encode(),
        TypedRegister r => r.Encode(),
        OrMap m => m.Encode(),
        OrList l => l.Encode(),
        _ => throw new ArgumentException($"not a CRDT state: {state.GetType().Name}"),
    };

    public static object Merge(object a, object b) => (a, b) switch
    {
        (PnCounter x, PnCounter y) => PnCounter.Merge(x, y),
        (OrSet x, OrSet y) => OrSet.Merge(x, y),
        (TypedRegister x, TypedRegister y) => TypedRegister.Merge(x, y),
        (OrMap x, OrMap y) => OrMap.Merge(x, y),
        (OrList x, OrList y) => OrList.Merge(x, y),
        _ => throw new FormatException($"cannot merge a {a.GetType().Name} with a {b.GetType().Name}"),
    };

    /// <summary>
    /// The merge of an object's live CRDT siblings (tombstones left out), or null when it holds none.
    /// A live sibling of another type than <paramref name="expected"/> (when given) is a
    /// <see cref="CrdtRefusedException"/>; one that does not decode, a FormatException.
    /// </summary>
    public static (Datatype Type, object State, long LastModifiedMs)? MergedState(DvvSet<Sibling>? obj, Datatype expected = Datatype.None)
    {
        if (obj is null)
            return null;
        Datatype type = Datatype.None;
        object? state = null;
        long modified = 0;
        foreach (var s in obj.Values)
        {
            if (s.Deleted)
                continue;
            var t = Of(s.ContentType);
            if (t == Datatype.None || (expected != Datatype.None && t != expected) || (type != Datatype.None && t != type))
            {
                string what = t == Datatype.None ? $"a plain value ({s.ContentType})" : "a " + Name(t);
                throw new CrdtRefusedException($"the key holds {what}, not a {Name(expected != Datatype.None ? expected : type)}");
            }
            type = t;
            var decoded = Decode(t, s.Value);
            state = state is null ? decoded : Merge(state, decoded);
            modified = Math.Max(modified, s.LastModifiedMs);
        }
        return state is null ? null : (type, state, modified);
    }

    /// <summary>
    /// For a read: an object whose live siblings are CRDT values becomes one value, their merge
    /// (null when the object is not a CRDT value, or only tombstones).
    /// </summary>
    public static Sibling? Collapse(DvvSet<Sibling> obj)
    {
        // On every read: a look at the content types first, allocating nothing.
        static bool IsCrdt(Sibling v) => !v.Deleted && v.ContentType.StartsWith(ContentTypePrefix, StringComparison.Ordinal) && Of(v.ContentType) != Datatype.None;
        bool any = false;
        foreach (var v in obj.Anonymous)
            any |= IsCrdt(v);
        foreach (var e in obj.Entries)
        {
            foreach (var v in e.Values)
                any |= IsCrdt(v);
        }
        if (!any)
            return null;
        var merged = MergedState(obj);
        return merged is { } m ? new Sibling(Encode(m.State), ContentType(m.Type), m.LastModifiedMs, false) : null;
    }

    /// <summary>
    /// Applies <paramref name="op"/> to <paramref name="state"/> as <paramref name="actor"/>: the
    /// new state and the operation's number (a counter's new value; members added or removed; 1
    /// for a register). A <see cref="CrdtRefusedException"/> when it cannot apply.
    /// </summary>
    public static (object State, long Number) Apply(object state, CrdtOp op, string actor, long nowMs)
    {
        var (next, number, _) = ApplyWithResult(state, op, actor, nowMs);
        return (next, number);
    }

    /// <summary>
    /// As <see cref="Apply"/>, with the operation's result bytes: a popped list element (null when
    /// the list was empty); null for the other operations. Hash and list operations' numbers: the
    /// fields added (hset), fields removed (hdel), the field's new value (hincr), the list's new
    /// length (push), 1 or 0 (pop), elements removed (lrem).
    /// </summary>
    public static (object State, long Number, byte[]? Result) ApplyWithResult(object state, CrdtOp op, string actor, long nowMs)
    {
        switch (op.Kind, state)
        {
            case (CrdtOpKind.HashSet, OrMap m):
            {
                if (op.Items.Count == 0 || op.Items.Count % 2 != 0)
                    throw new CrdtRefusedException("hset takes FIELD VALUE pairs");
                if (op.Items.Count > MaxItemsPerOp)
                    throw new CrdtRefusedException($"{op.Items.Count} items in one operation (at most {MaxItemsPerOp})");
                long added = 0;
                for (int i = 0; i < op.Items.Count; i += 2)
                {
                    if (m.Get(op.Items[i]) is null)
                        added++;
                    m = m.Set(actor, op.Items[i], op.Items[i + 1], nowMs);
                }
                return (m, added, null);
            }
            case (CrdtOpKind.HashDelete, OrMap m):
            {
                if (op.Items.Count == 0)
                    throw new CrdtRefusedException("nothing to delete");
                long removed = 0;
                foreach (var field in op.Items)
                {
                    if (m.Get(field) is not null)
                        removed++;
                    m = m.Remove(field);
                }
                return (m, removed, null);
            }
            case (CrdtOpKind.HashIncrement, OrMap m):
            {
                if (op.Items.Count != 1)
                    throw new CrdtRefusedException("hincr takes one field");
                var next = m.Increment(actor, op.Items[0], op.Amount, out long value);
                return (next, value, null);
            }
            case (CrdtOpKind.ListPushLeft or CrdtOpKind.ListPushRight, OrList l):
            {
                if (op.Items.Count == 0)
                    throw new CrdtRefusedException("nothing to push");
                if (op.Items.Count > MaxItemsPerOp)
                    throw new CrdtRefusedException($"{op.Items.Count} items in one operation (at most {MaxItemsPerOp})");
                foreach (var item in op.Items)
                    l = l.Push(actor, item, op.Kind == CrdtOpKind.ListPushLeft);
                return (l, l.Count, null);
            }
            case (CrdtOpKind.ListPopLeft or CrdtOpKind.ListPopRight, OrList l):
            {
                var next = l.Pop(op.Kind == CrdtOpKind.ListPopLeft, out var value);
                return (next, value is null ? 0 : 1, value);
            }
            case (CrdtOpKind.ListRemove, OrList l):
            {
                if (op.Items.Count != 1)
                    throw new CrdtRefusedException("lrem takes one value");
                var next = l.RemoveValue(op.Amount, op.Items[0], out long removed);
                return (next, removed, null);
            }
        }
        var (s, n) = ApplyBasic(state, op, actor, nowMs);
        return (s, n, null);
    }

    private static (object State, long Number) ApplyBasic(object state, CrdtOp op, string actor, long nowMs)
    {
        if (op.Items.Count > MaxItemsPerOp)
            throw new CrdtRefusedException($"{op.Items.Count} items in one operation (at most {MaxItemsPerOp})");
        switch (op.Kind, state)
        {
            case (CrdtOpKind.Increment, PnCounter c):
            {
                var next = c.Increment(actor, op.Amount);
                return (next, next.Value);
            }
            case (CrdtOpKind.SetAdd, OrSet s):
            {
                if (op.Items.Count == 0)
                    throw new CrdtRefusedException("nothing to add");
                long added = 0;
                foreach (var item in op.Items)
                {
                    if (!s.Contains(item))
                        added++;
                    s = s.Add(actor, item);
                }
                return (s, added);
            }
            case (CrdtOpKind.SetRemove, OrSet s):
            {
                if (op.Items.Count == 0)
                    throw new CrdtRefusedException("nothing to remove");
                long removed = 0;
                foreach (var item in op.Items)
                {
                    if (s.Contains(item))
                        removed++;
                    s = s.Remove(item);
                }
                return (s, removed);
            }
            case (CrdtOpKind.RegisterSet, TypedRegister r):
            {
                if (op.Items.Count != 1)
                    throw new CrdtRefusedException("a register takes exactly one value");
                var type = TypedRegister.ParseType(op.ValueType);
                var value = TypedRegister.Canonical(type, op.Items[0]);
                long ts = r.Timestamp == long.MinValue ? nowMs : Math.Max(nowMs, r.Timestamp + 1);
                return (new TypedRegister(type, value, ts, actor), 1);
            }
            default:
                throw new CrdtRefusedException($"{op.Kind} does not apply to a {state.GetType().Name}");
        }
    }
}
