using Kv.Actors.Security;
using Kv.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kv.Node.FrontEnds.Http;

/// <summary>
/// Batches over HTTP: POST /ns/{ns}/batch/get and /ns/{ns}/batch/put, through the client's batch
/// API (each key its own quorum operation, not atomic); one outcome per key, in order.
/// </summary>
public static class BatchEndpoints
{
    private const string Tag = "batches";

    public static void Map(IEndpointRouteBuilder app, FrontEndContext ctx)
    {
        // A batch body may carry many values: the request-body limit of the server (kv.max-object-size + 1 MiB).
        long maxBody = ctx.Settings.Store.MaxObjectBytes + 1024 * 1024;

        app.MapPost("/ns/{ns}/batch/get", (HttpContext http, string ns) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Read, async c =>
                {
                    var body = await HttpApi.BodyAsync<BatchGetRequest>(http.Request, maxBody).ConfigureAwait(false);
                    if (body.Keys is null || body.Keys.Any(k => k is null))
                        throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", "the body must be {\"keys\": [\"k1\", ...]}");
                    var outcomes = await c.GetManyAsync(ns, body.Keys, HttpApi.OptionsOf(http.Request)).ConfigureAwait(false);
                    return HttpApi.Json(new BatchResults(outcomes.Select(o => o.Error is { } e
                        ? new BatchOutcome(o.Key, null, null, null, HttpApi.ErrorOf(e))
                        : new BatchOutcome(o.Key, o.Result!.Found, NullIfEmpty(o.Result.Context), o.Result.Siblings.Select(HttpApi.SiblingOf).ToList(), null)).ToList()));
                }))
            .WithName("BatchGet").WithTags(Tag)
            .WithSummary("Reads many keys of a namespace")
            .WithDescription("Body {keys:[...]} (1..1000 keys). Returns {results:[{key, found, context, siblings} or {key, error}]} in the order asked. Query: r, pr, timeout.")
            .RequestBody<BatchGetRequest>("application/json")
            .Produces<BatchResults>();

        app.MapPost("/ns/{ns}/batch/put", (HttpContext http, string ns) =>
                HttpApi.Guarded(http, ctx, ns = HttpApi.RouteName(ns), Permission.Write, async c =>
                {
                    var body = await HttpApi.BodyAsync<BatchPutRequest>(http.Request, maxBody).ConfigureAwait(false);
                    if (body.Items is null || body.Items.Any(i => i is null))
                        throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", "the body must be {\"items\": [{\"key\": ..., \"value\": ...}, ...]}");
                    var items = body.Items.Select((i, n) =>
                    {
                        string where = $"items[{n}]";
                        if (string.IsNullOrEmpty(i.Key))
                            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{where}: a key is needed");
                        return new KvPutItem(i.Key, HttpApi.ValueOf(i.Value, i.Encoding, where), HttpApi.ContextOf(i.Context, where + ".context"),
                            string.IsNullOrWhiteSpace(i.ContentType) ? (string.Equals(i.Encoding, "base64", StringComparison.OrdinalIgnoreCase) ? "application/octet-stream" : "text/plain; charset=utf-8") : i.ContentType);
                    }).ToList();
                    var outcomes = await c.PutManyAsync(ns, items, HttpApi.OptionsOf(http.Request)).ConfigureAwait(false);
                    return HttpApi.Json(new BatchResults(outcomes.Select(o => o.Error is { } e
                        ? new BatchOutcome(o.Key, null, null, null, HttpApi.ErrorOf(e))
                        : new BatchOutcome(o.Key, null, NullIfEmpty(o.Result!.Context), null, null)).ToList()));
                }))
            .WithName("BatchPut").WithTags(Tag)
            .WithSummary("Writes many keys of a namespace")
            .WithDescription("Body {items:[{key, value, encoding?: utf-8|base64, contentType?, context?}]} (1..1000 items, a key once). Returns {results:[{key, context} or {key, error}]}; a refused item stores nothing. Query: w, dw, pw, timeout.")
            .RequestBody<BatchPutRequest>("application/json")
            .Produces<BatchResults>();
    }

    private static string? NullIfEmpty(CausalContext context) => context.IsEmpty ? null : context.ToString();
}

/// <summary>The keys of a batch read.</summary>
public sealed record BatchGetRequest(IReadOnlyList<string>? Keys);

/// <summary>The items of a batch write.</summary>
public sealed record BatchPutRequest(IReadOnlyList<BatchPutItem>? Items);

/// <summary>One write of a batch: the value is UTF-8 text unless encoding is base64; context: that of an earlier read.</summary>
public sealed record BatchPutItem(string? Key, string? Value, string? Encoding, string? ContentType, string? Context);

/// <summary>One outcome per key, in the order asked.</summary>
public sealed record BatchResults(IReadOnlyList<BatchOutcome> Results);

/// <summary>A key's outcome: found, context and siblings for a read; context for a write; or the key's error.</summary>
public sealed record BatchOutcome(string Key, bool? Found, string? Context, IReadOnlyList<SiblingBody>? Siblings, ErrorBody? Error);
