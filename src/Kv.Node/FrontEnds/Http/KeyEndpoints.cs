using System.Globalization;
using Kv.Actors.Coordinators;
using Kv.Actors.Scans;
using Kv.Actors.Security;
using Kv.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kv.Node.FrontEnds.Http;

/// <summary>
/// Keys over HTTP (Riak's HTTP API, adapted): GET / PUT / DELETE / HEAD /ns/{ns}/keys/{key} with
/// the causal context in X-Kv-Context, 300 with every sibling, conditional writes (If-None-Match: *,
/// If-Match: context), the time to live of a key, and scans of a namespace's keys with continuation.
/// </summary>
public static class KeyEndpoints
{
    private const string Tag = "keys";

    public static void Map(IEndpointRouteBuilder app, FrontEndContext ctx)
    {
        long maxValue = ctx.Settings.Store.MaxObjectBytes;

        app.MapGet("/ns/{ns}/keys/{key}", (HttpContext http, string ns, string key) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Read, c => GetAsync(http, c, ns, HttpApi.RouteName(key))))
            .WithName("GetKey").WithTags(Tag)
            .WithSummary("Reads a key")
            .WithDescription("One value: 200 with its bytes and Content-Type (Accept: application/json gives the JSON form). Siblings: 300 with every sibling in JSON. Not found: 404 (X-Kv-Context carries a tombstone's context, if any). Query: r, pr, timeout, notfound_ok, basic_quorum.")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .Produces<ObjectBody>(StatusCodes.Status300MultipleChoices)
            .Produces<ErrorBody>(StatusCodes.Status404NotFound);

        app.MapMethods("/ns/{ns}/keys/{key}", ["HEAD"], (HttpContext http, string ns, string key) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Read, async c =>
                    await c.ExistsAsync(ns, HttpApi.RouteName(key), HttpApi.OptionsOf(http.Request)).ConfigureAwait(false)
                        ? Results.Ok()
                        : Results.NotFound()))
            .WithName("KeyExists").WithTags(Tag)
            .WithSummary("Whether a key holds a live value")
            .WithDescription("200 when it does, 404 when it is absent, deleted or expired. No body.");

        app.MapPut("/ns/{ns}/keys/{key}", (HttpContext http, string ns, string key) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Write, c => PutAsync(http, c, ns, HttpApi.RouteName(key), maxValue)))
            .WithName("PutKey").WithTags(Tag)
            .WithSummary("Writes a key")
            .WithDescription("The body is the value, its Content-Type kept. Send the X-Kv-Context of your read to replace what you read (without it the write may become a sibling). If-None-Match: * writes only if the key is absent; If-Match: <context> only if the stored context is that one (else 412; a read-then-write check, not atomic). Query: w, dw, pw, timeout, ttl (30s, 5m, ...), returnbody. 204 with X-Kv-Context; 200 with the stored siblings when returnbody=true.")
            .RequestBody<byte[]>("*/*")
            .Produces(StatusCodes.Status204NoContent)
            .Produces<ObjectBody>(StatusCodes.Status200OK)
            .Produces<ErrorBody>(StatusCodes.Status412PreconditionFailed)
            .Produces<ErrorBody>(StatusCodes.Status413PayloadTooLarge);

        app.MapDelete("/ns/{ns}/keys/{key}", (HttpContext http, string ns, string key) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Write, c => DeleteAsync(http, c, ns, HttpApi.RouteName(key))))
            .WithName("DeleteKey").WithTags(Tag)
            .WithSummary("Deletes a key")
            .WithDescription("Send the X-Kv-Context of your read. If-Match: <context> deletes only if the stored context is that one (else 412). Query: w, dw, pw, timeout. 204 with the tombstone's X-Kv-Context.")
            .Produces(StatusCodes.Status204NoContent)
            .Produces<ErrorBody>(StatusCodes.Status412PreconditionFailed);

        app.MapGet("/ns/{ns}/keys/{key}/ttl", (HttpContext http, string ns, string key) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Read, async c =>
                {
                    var ttl = await c.TtlAsync(ns, HttpApi.RouteName(key), HttpApi.OptionsOf(http.Request)).ConfigureAwait(false);
                    return ttl.Found
                        ? HttpApi.Json(new TtlBody(ttl.Key, ttl.Left.Select(l => l is { } t ? (double?)Math.Round(t.TotalSeconds, 3) : null).ToList()))
                        : HttpApi.Error(StatusCodes.Status404NotFound, "not_found", $"{ns}/{ttl.Key} holds no live value");
                }))
            .WithName("GetKeyTtl").WithTags(Tag)
            .WithSummary("The time to live of a key's values")
            .WithDescription("Seconds left per sibling (null: no TTL); 404 when the key holds no live value.")
            .Produces<TtlBody>()
            .Produces<ErrorBody>(StatusCodes.Status404NotFound);

        app.MapGet("/ns/{ns}/keys", (HttpContext http, string ns) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Read, c => ScanAsync(http, c, ns)))
            .WithName("ScanKeys").WithTags(Tag)
            .WithSummary("Scans a namespace's keys in key order")
            .WithDescription("Query: prefix=P, or start=A and/or end=B ([A, B)); limit (1..10000, default 1000); after=TOKEN (the next of the previous page); r (read each key at that quorum); timeout. Returns {keys:[{key, context, siblings}], next} (next null: no more pages).")
            .Produces<ScanBody>();
    }

    private static async Task<IResult> GetAsync(HttpContext http, KvClient c, string ns, string key)
    {
        var obj = await c.GetAsync(ns, key, HttpApi.OptionsOf(http.Request)).ConfigureAwait(false);
        SetContext(http, obj.Context);
        if (!obj.Found)
            return HttpApi.Error(StatusCodes.Status404NotFound, "not_found", $"{ns}/{key} not found");
        if (obj.HasSiblings)
            return HttpApi.Json(HttpApi.ObjectOf(obj), StatusCodes.Status300MultipleChoices);
        if (WantsJson(http.Request))
            return HttpApi.Json(HttpApi.ObjectOf(obj));
        var v = obj.Value;
        http.Response.Headers.LastModified = v.LastModified.ToString("R", CultureInfo.InvariantCulture);
        if (v.ExpiresAt is { } at)
            http.Response.Headers["X-Kv-Expires"] = at.ToString("R", CultureInfo.InvariantCulture);
        return Results.Bytes(v.Value, HeaderSafe(v.ContentType));
    }

    private static async Task<IResult> PutAsync(HttpContext http, KvClient c, string ns, string key, long maxValue)
    {
        var request = http.Request;
        var options = HttpApi.OptionsOf(request);
        TimeSpan? ttl = request.Query.TryGetValue("ttl", out var t) ? HttpApi.Duration("ttl", t.ToString()) : null;
        var context = HttpApi.ContextOf(request.Headers[HttpApi.ContextHeader], HttpApi.ContextHeader);
        var body = await HttpApi.ReadBodyAsync(request, maxValue).ConfigureAwait(false);
        var (refused, matched) = await PreconditionAsync(http, c, ns, key, options).ConfigureAwait(false);
        if (refused is not null)
            return refused;
        if (context.IsEmpty && matched is not null)
            context = matched;
        string contentType = string.IsNullOrWhiteSpace(request.ContentType) ? "application/octet-stream" : request.ContentType;
        var result = ttl is { } life
            ? await c.PutAsync(ns, key, body, life, context, options, contentType).ConfigureAwait(false)
            : await c.PutAsync(ns, key, body, context, options, contentType).ConfigureAwait(false);
        SetContext(http, result.Context);
        if (options.ReturnBody == true)
            return HttpApi.Json(new ObjectBody(key, result.Siblings.Count > 0, result.Context.ToString(), result.Siblings.Select(HttpApi.SiblingOf).ToList()));
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, KvClient c, string ns, string key)
    {
        var options = HttpApi.OptionsOf(http.Request);
        var context = HttpApi.ContextOf(http.Request.Headers[HttpApi.ContextHeader], HttpApi.ContextHeader);
        var (refused, matched) = await PreconditionAsync(http, c, ns, key, options).ConfigureAwait(false);
        if (refused is not null)
            return refused;
        if (context.IsEmpty && matched is not null)
            context = matched;
        var result = await c.DeleteAsync(ns, key, context, options).ConfigureAwait(false);
        SetContext(http, result.Context);
        return Results.NoContent();
    }

    /// <summary>
    /// The conditional headers of a write: If-None-Match: * (only if no live value) and If-Match:
    /// * (only if one) or a context (only if the stored context is that one; that context is then
    /// the write's). A read at the request's quorum, then the write: not atomic.
    /// </summary>
    private static async Task<(IResult? Refused, CausalContext? Matched)> PreconditionAsync(HttpContext http, KvClient c, string ns, string key, RequestOptions options)
    {
        string? ifNoneMatch = http.Request.Headers.IfNoneMatch;
        string? ifMatch = http.Request.Headers.IfMatch;
        if (string.IsNullOrEmpty(ifNoneMatch) && string.IsNullOrEmpty(ifMatch))
            return (null, null);
        if (!string.IsNullOrEmpty(ifNoneMatch) && ifNoneMatch.Trim() != "*")
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", "If-None-Match takes only * (write only if the key is absent)");
        CausalContext? expected = string.IsNullOrEmpty(ifMatch) || ifMatch.Trim() == "*" ? null : HttpApi.ContextOf(ifMatch, "If-Match");
        var current = await c.GetAsync(ns, key, options with { ReturnBody = null }).ConfigureAwait(false);
        SetContext(http, current.Context);
        if (!string.IsNullOrEmpty(ifNoneMatch) && current.Found)
            return (HttpApi.Error(StatusCodes.Status412PreconditionFailed, "precondition_failed", $"{ns}/{key} exists (If-None-Match: *)"), null);
        if (!string.IsNullOrEmpty(ifMatch))
        {
            if (!current.Found)
                return (HttpApi.Error(StatusCodes.Status412PreconditionFailed, "precondition_failed", $"{ns}/{key} holds no live value (If-Match)"), null);
            if (expected is not null && !current.Context.Equals(expected))
                return (HttpApi.Error(StatusCodes.Status412PreconditionFailed, "precondition_failed", $"{ns}/{key} has changed: its context is {current.Context}, not the If-Match one"), null);
            return (null, current.Context);
        }
        return (null, null);
    }

    private static async Task<IResult> ScanAsync(HttpContext http, KvClient c, string ns)
    {
        var q = http.Request.Query;
        string? prefix = q.TryGetValue("prefix", out var p) ? p.ToString() : null;
        string? start = q.TryGetValue("start", out var s) ? s.ToString() : null;
        string? end = q.TryGetValue("end", out var e) ? e.ToString() : null;
        if (prefix is not null && (start is not null || end is not null))
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", "a scan takes either prefix or start/end, not both");
        var range = prefix is not null ? ScanRange.WithPrefix(prefix) : start is null && end is null ? ScanRange.All : ScanRange.Between(start, end);
        int limit = ScanLimits.DefaultLimit;
        if (q.TryGetValue("limit", out var l) && !int.TryParse(l.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit))
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"limit={l}: expected 1..{ScanLimits.MaxLimit}");
        string? after = q.TryGetValue("after", out var a) && a.ToString().Length > 0 ? a.ToString() : null;
        var page = await c.ScanAsync(ns, range, limit, after, HttpApi.OptionsOf(http.Request)).ConfigureAwait(false);
        return HttpApi.Json(new ScanBody(page.Items.Select(HttpApi.ObjectOf).ToList(), page.NextToken));
    }

    private static void SetContext(HttpContext http, CausalContext context)
    {
        if (!context.IsEmpty)
        {
            http.Response.Headers[HttpApi.ContextHeader] = context.ToString();
            http.Response.Headers.ETag = "\"" + context + "\"";
        }
    }

    private static bool WantsJson(HttpRequest request) =>
        request.Headers.Accept.Any(a => a is not null && a.Contains("application/json", StringComparison.OrdinalIgnoreCase));

    /// <summary>A stored content type as a header value (one that cannot be sent as one becomes application/octet-stream).</summary>
    private static string HeaderSafe(string contentType) =>
        contentType.Length > 0 && contentType.All(ch => ch is >= ' ' and <= '~') ? contentType : "application/octet-stream";
}

/// <summary>Seconds left per sibling (null: that value has no TTL).</summary>
public sealed record TtlBody(string Key, IReadOnlyList<double?> Ttl);

/// <summary>A page of a scan: the keys with their siblings, and the token of the next page (null: the last page).</summary>
public sealed record ScanBody(IReadOnlyList<ObjectBody> Keys,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)] string? Next);
