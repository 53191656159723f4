using Kv.Actors.Crdt;

namespace Kv.Actors.Coordinators;

/// <summary>The router's checks of requests against a namespace's datatype: the clear errors of a wrong kind of request.</summary>
internal static class DataTypeRouting
{
    /// <summary>Why a put is refused in a namespace of <paramref name="datatype"/>.</summary>
    public static string PutRefusal(string ns, Datatype datatype) => datatype switch
    {
        Datatype.Counter => $"namespace '{ns}' has datatype counter: change its values with incr/decr (kv incr {ns} KEY [BY]), not put",
        Datatype.Set => $"namespace '{ns}' has datatype set: change its values with sadd/srem (kv sadd {ns} KEY MEMBER...), not put",
        Datatype.Register => $"namespace '{ns}' has datatype register: write a typed value (kv put {ns} KEY VALUE --type string|int|float)",
        Datatype.Hash => $"namespace '{ns}' has datatype hash: change its values with hset/hdel/hincr (kv hset {ns} KEY FIELD VALUE), not put",
        Datatype.List => $"namespace '{ns}' has datatype list: change its values with lpush/rpush/lpop/rpop/lrem (kv rpush {ns} KEY VALUE...), not put",
        _ => $"namespace '{ns}' has datatype {CrdtValues.Name(datatype)}",
    };

    /// <summary>Why <paramref name="op"/> is refused in a namespace of <paramref name="datatype"/>, or null.</summary>
    public static string? Refusal(string ns, Datatype datatype, CrdtOp op)
    {
        if (op.Datatype == Datatype.None)
            return $"unknown data type operation {op.Kind}";
        if (datatype != op.Datatype)
            return $"namespace '{ns}' has datatype {CrdtValues.Name(datatype)}: {Verb(op)} needs a namespace of datatype {CrdtValues.Name(op.Datatype)}";
        if (op.Items.Count > CrdtValues.MaxItemsPerOp)
            return $"{op.Items.Count} items in one operation (at most {CrdtValues.MaxItemsPerOp})";
        return null;
    }

    private static string Verb(CrdtOp op) => op.Kind switch
    {
        CrdtOpKind.Increment => "incr/decr",
        CrdtOpKind.SetAdd => "sadd",
        CrdtOpKind.SetRemove => "srem",
        CrdtOpKind.RegisterSet => "a typed put",
        CrdtOpKind.HashSet => "hset",
        CrdtOpKind.HashDelete => "hdel",
        CrdtOpKind.HashIncrement => "hincr",
        CrdtOpKind.ListPushLeft => "lpush",
        CrdtOpKind.ListPushRight => "rpush",
        CrdtOpKind.ListPopLeft => "lpop",
        CrdtOpKind.ListPopRight => "rpop",
        CrdtOpKind.ListRemove => "lrem",
        _ => op.Kind.ToString(),
    };
}
