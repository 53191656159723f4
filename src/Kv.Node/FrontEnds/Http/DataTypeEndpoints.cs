using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kv.Actors.Security;
using Kv.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kv.Node.FrontEnds.Http;

/// <summary>
/// The CRDT data types over HTTP, one shape for all: GET /ns/{ns}/{type}/{key} reads the merged
/// value, POST (PUT for a register) applies one operation given as a JSON object with one member
/// naming it. The namespace must be of that data type (else 400 and nothing stored).
/// </summary>
public static class DataTypeEndpoints
{
    private const string Tag = "data types";
    private const long MaxBody = 1024 * 1024;

    public static void Map(IEndpointRouteBuilder app, FrontEndContext ctx)
    {
        Route(app, ctx, "counters", "Counter",
            "Value: {value}. Operations: {\"increment\": n} or {\"decrement\": n} -> {value}.",
            async (c, ns, key, q, o) => HttpApi.Json(new { value = await c.GetCounterAsync(ns, key, o).ConfigureAwait(false) }),
            async (c, ns, key, op, o) => op.Name switch
            {
                "increment" => HttpApi.Json(new { value = await c.IncrementAsync(ns, key, Long(op), o).ConfigureAwait(false) }),
                "decrement" => HttpApi.Json(new { value = await c.DecrementAsync(ns, key, Long(op), o).ConfigureAwait(false) }),
                _ => Unknown(op, "increment, decrement"),
            });

        Route(app, ctx, "sets", "Set",
            "Value: {members, size}; ?member=M -> {member, isMember}. Operations: {\"add\": [...]} or {\"remove\": [...]} -> {changed} (how many were added / removed at the coordinating replica).",
            async (c, ns, key, q, o) => q.TryGetValue("member", out var m)
                ? HttpApi.Json(new { member = m.ToString(), isMember = await c.SetIsMemberAsync(ns, key, m.ToString(), o).ConfigureAwait(false) })
                : HttpApi.Json(Members(await c.SetMembersAsync(ns, key, o).ConfigureAwait(false))),
            async (c, ns, key, op, o) => op.Name switch
            {
                "add" => HttpApi.Json(new { changed = await c.SetAddAsync(ns, key, Strings(op), o).ConfigureAwait(false) }),
                "remove" => HttpApi.Json(new { changed = await c.SetRemoveAsync(ns, key, Strings(op), o).ConfigureAwait(false) }),
                _ => Unknown(op, "add, remove"),
            });

        Route(app, ctx, "registers", "Register",
            "Value: {type, value} (404 when never written). Operation: {\"set\": \"text\", \"type\": \"string|int|float\"} (also with PUT) -> 204.",
            async (c, ns, key, q, o) => await c.RegisterGetAsync(ns, key, o).ConfigureAwait(false) is { } r
                ? HttpApi.Json(new { type = r.TypeName, value = r.Value })
                : HttpApi.Error(StatusCodes.Status404NotFound, "not_found", $"{ns}/{key} was never written"),
            async (c, ns, key, op, o) =>
            {
                if (op.Name != "set")
                    return Unknown(op, "set");
                await c.RegisterSetAsync(ns, key, Text(op.Value, op.Name), op.Type ?? "string", o).ConfigureAwait(false);
                return Results.NoContent();
            },
            alsoPut: true);

        Route(app, ctx, "hashes", "Hash",
            "Value: {fields: {f: v}}; ?field=F -> {field, value} (404 when absent). Operations: {\"set\": {f: v, ...}} -> {added}; {\"delete\": [f, ...]} -> {removed}; {\"increment\": {\"field\": f, \"by\": n}} -> {value}.",
            async (c, ns, key, q, o) =>
            {
                if (q.TryGetValue("field", out var f))
                {
                    return await c.HashGetAsync(ns, key, f.ToString(), o).ConfigureAwait(false) is { } v
                        ? HttpApi.Json(new { field = f.ToString(), value = v })
                        : HttpApi.Error(StatusCodes.Status404NotFound, "not_found", $"{ns}/{key} has no field '{f}'");
                }
                var all = await c.HashGetAllAsync(ns, key, o).ConfigureAwait(false);
                return HttpApi.Json(new { fields = all.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal) });
            },
            async (c, ns, key, op, o) => op.Name switch
            {
                "set" => HttpApi.Json(new { added = await c.HashSetAsync(ns, key, Fields(op), o).ConfigureAwait(false) }),
                "delete" => HttpApi.Json(new { removed = await c.HashDeleteAsync(ns, key, Strings(op), o).ConfigureAwait(false) }),
                "increment" => await HashIncrement(c, ns, key, op, o).ConfigureAwait(false),
                _ => Unknown(op, "set, delete, increment"),
            });

        Route(app, ctx, "lists", "List",
            "Value: {elements, length}; ?start=S&stop=E (inclusive, negative from the end). Operations: {\"pushLeft\": [...]} / {\"pushRight\": [...]} -> {length}; {\"pop\": \"left\"|\"right\"} -> {value} (null: empty); {\"remove\": {\"value\": v, \"count\": n}} -> {removed}.",
            async (c, ns, key, q, o) =>
            {
                long start = q.TryGetValue("start", out var s) ? Index("start", s.ToString()) : 0;
                long stop = q.TryGetValue("stop", out var e) ? Index("stop", e.ToString()) : -1;
                var elements = await c.ListRangeAsync(ns, key, start, stop, o).ConfigureAwait(false);
                int length = await c.ListLengthAsync(ns, key, o).ConfigureAwait(false);
                return HttpApi.Json(new { elements, length });
            },
            async (c, ns, key, op, o) => op.Name switch
            {
                "pushLeft" => HttpApi.Json(new { length = await c.ListPushLeftAsync(ns, key, Strings(op), o).ConfigureAwait(false) }),
                "pushRight" => HttpApi.Json(new { length = await c.ListPushRightAsync(ns, key, Strings(op), o).ConfigureAwait(false) }),
                "pop" => Text(op.Value, "pop") switch
                {
                    "left" => HttpApi.Json(new PopBody(await c.ListPopLeftAsync(ns, key, o).ConfigureAwait(false))),
                    "right" => HttpApi.Json(new PopBody(await c.ListPopRightAsync(ns, key, o).ConfigureAwait(false))),
                    var side => throw Bad($"pop: '{side}' is not left or right"),
                },
                "remove" => await ListRemove(c, ns, key, op, o).ConfigureAwait(false),
                _ => Unknown(op, "pushLeft, pushRight, pop, remove"),
            });
    }

    /// <summary>An operation: the one member of the body that names it, its value, and a register's type.</summary>
    private sealed record Operation(string Name, JsonNode? Value, string? Type);

    private static void Route(IEndpointRouteBuilder app, FrontEndContext ctx, string path, string name, string description,
        Func<KvClient, string, string, IQueryCollection, Kv.Actors.Coordinators.RequestOptions, Task<IResult>> read,
        Func<KvClient, string, string, Operation, Kv.Actors.Coordinators.RequestOptions, Task<IResult>> update,
        bool alsoPut = false)
    {
        string pattern = $"/ns/{{ns}}/{path}/{{key}}";
        app.MapGet(pattern, (HttpContext http, string ns, string key) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Read, c =>
                    read(c, ns, HttpApi.RouteName(key), http.Request.Query, HttpApi.OptionsOf(http.Request))))
            .WithName("Get" + name).WithTags(Tag)
            .WithSummary($"Reads a {name.ToLowerInvariant()}")
            .WithDescription(description);
        Delegate apply = (HttpContext http, string ns, string key) =>
            HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Write, async c =>
            {
                var op = OperationOf(await HttpApi.ObjectBodyAsync(http.Request, MaxBody).ConfigureAwait(false));
                return await update(c, ns, HttpApi.RouteName(key), op, HttpApi.OptionsOf(http.Request)).ConfigureAwait(false);
            });
        app.MapPost(pattern, apply)
            .WithName("Update" + name).WithTags(Tag)
            .WithSummary($"Applies an operation to a {name.ToLowerInvariant()}")
            .WithDescription(description)
            .RequestBody<JsonObject>("application/json");
        if (alsoPut)
        {
            app.MapPut(pattern, apply)
                .WithName("Put" + name).WithTags(Tag)
                .WithSummary($"Writes a {name.ToLowerInvariant()}")
                .WithDescription(description)
                .RequestBody<JsonObject>("application/json");
        }
    }

    private static Operation OperationOf(JsonObject body)
    {
        string? type = null;
        if (body.TryGetPropertyValue("type", out var t))
        {
            type = Text(t, "type");
            body.Remove("type");
        }
        if (body.Count != 1)
            throw Bad("the body must name one operation, e.g. {\"increment\": 1}");
        var (name, value) = body.First();
        return new Operation(name, value, type);
    }

    private static HttpApiException Bad(string message) => new(StatusCodes.Status400BadRequest, "invalid_request", message);

    private static IResult Unknown(Operation op, string known) => throw Bad($"'{op.Name}' is not an operation here (one of: {known})");

    private static long Long(Operation op)
    {
        if (op.Value is JsonValue v && v.TryGetValue(out long n))
            return n;
        throw Bad($"{op.Name}: expected a whole number");
    }

    private static string Text(JsonNode? node, string what)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            return v.GetValue<string>();
        throw Bad($"{what}: expected a string");
    }

    private static List<string> Strings(Operation op)
    {
        if (op.Value is JsonValue { } one && one.GetValueKind() == JsonValueKind.String)
            return [one.GetValue<string>()];
        if (op.Value is JsonArray a && a.Count > 0)
            return a.Select(n => Text(n, op.Name + "[]")).ToList();
        throw Bad($"{op.Name}: expected a string or a non-empty array of strings");
    }

    private static List<KeyValuePair<string, string>> Fields(Operation op)
    {
        if (op.Value is JsonObject o && o.Count > 0)
            return o.Select(p => KeyValuePair.Create(p.Key, Text(p.Value, $"{op.Name}.{p.Key}"))).ToList();
        throw Bad($"{op.Name}: expected an object of field: value strings");
    }

    private static async Task<IResult> HashIncrement(KvClient c, string ns, string key, Operation op, Kv.Actors.Coordinators.RequestOptions o)
    {
        if (op.Value is not JsonObject arg || !arg.TryGetPropertyValue("field", out var f))
            throw Bad("increment: expected {\"field\": f, \"by\": n}");
        long by = 1;
        if (arg.TryGetPropertyValue("by", out var b) && !(b is JsonValue bv && bv.TryGetValue(out by)))
            throw Bad("increment.by: expected a whole number");
        return HttpApi.Json(new { value = await c.HashIncrementAsync(ns, key, Text(f, "increment.field"), by, o).ConfigureAwait(false) });
    }

    private static async Task<IResult> ListRemove(KvClient c, string ns, string key, Operation op, Kv.Actors.Coordinators.RequestOptions o)
    {
        if (op.Value is not JsonObject arg || !arg.TryGetPropertyValue("value", out var v))
            throw Bad("remove: expected {\"value\": v, \"count\": n}");
        long count = 0;
        if (arg.TryGetPropertyValue("count", out var n) && !(n is JsonValue nv && nv.TryGetValue(out count)))
            throw Bad("remove.count: expected a whole number");
        return HttpApi.Json(new { removed = await c.ListRemoveAsync(ns, key, count, Text(v, "remove.value"), o).ConfigureAwait(false) });
    }

    private static long Index(string name, string text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) ? n : throw Bad($"{name}={text}: expected a whole number");

    private static object Members(IReadOnlyList<string> members) => new { members, size = members.Count };

    /// <summary>A popped element (null: the list was empty).</summary>
    private sealed record PopBody([property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)] string? Value);
}
