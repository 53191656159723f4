using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kv.Actors.Coordinators;
using Kv.Actors.Security;
using Kv.Client;
using Microsoft.AspNetCore.Http;

namespace Kv.Node.FrontEnds.Http;

/// <summary>A request the HTTP API refuses before it reaches the store (a 4xx with a JSON error body).</summary>
public sealed class HttpApiException(int status, string error, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Error { get; } = error;
}

/// <summary>
/// What every HTTP endpoint shares: who the request runs as (HTTP Basic, else anonymous) and
/// whether it may, the quorum parameters of the query string, the JSON error bodies and the
/// mapping of the client's errors to status codes, and the JSON form of objects.
/// </summary>
public static class HttpApi
{
    /// <summary>The causal context header: returned by reads and writes, sent back with a write.</summary>
    public const string ContextHeader = "X-Kv-Context";

    /// <summary>How the API writes JSON: camelCase, null members left out.</summary>
    public static readonly JsonSerializerOptions JsonOut = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>A JSON body with <paramref name="status"/>.</summary>
    public static IResult Json<T>(T body, int status = StatusCodes.Status200OK) => Results.Json(body, JsonOut, statusCode: status);

    /// <summary>A JSON error body {error, message} with <paramref name="status"/>.</summary>
    public static IResult Error(int status, string error, string message) => Json(new ErrorBody(error, message), status);

    /// <summary>The status and error code of a client error (documented in docs/frontends/http.md).</summary>
    public static (int Status, string Error) Map(KvException e) => e switch
    {
        InvalidKeyException => (StatusCodes.Status400BadRequest, "invalid_key"),
        InvalidRequestException => (StatusCodes.Status400BadRequest, "invalid_request"),
        UnknownNamespaceException => (StatusCodes.Status404NotFound, "unknown_namespace"),
        ValueTooLargeException => (StatusCodes.Status413PayloadTooLarge, "value_too_large"),
        TooManySiblingsException => (StatusCodes.Status422UnprocessableEntity, "too_many_siblings"),
        QuorumNotMetException => (StatusCodes.Status503ServiceUnavailable, "quorum_not_met"),
        KvUnavailableException => (StatusCodes.Status503ServiceUnavailable, "unavailable"),
        KvTimeoutException => (StatusCodes.Status504GatewayTimeout, "timeout"),
        _ => (StatusCodes.Status500InternalServerError, "error"),
    };

    public static ErrorBody ErrorOf(KvException e) => new(Map(e).Error, e.Message);

    /// <summary>
    /// Runs <paramref name="handler"/> for a request that needs <paramref name="permission"/> on
    /// <paramref name="ns"/> (null: cluster-wide): 401 (with WWW-Authenticate) when it has no
    /// principal, 403 when that principal may not; the client's errors become JSON errors.
    /// </summary>
    public static async Task<IResult> Guarded(HttpContext http, FrontEndContext ctx, string? ns, Permission permission, Func<KvClient, Task<IResult>> handler)
    {
        try
        {
            var principal = await PrincipalOf(http, ctx).ConfigureAwait(false);
            if (principal is null)
                throw new HttpApiException(StatusCodes.Status401Unauthorized, "unauthorized", "credentials are needed (HTTP Basic), or they were refused");
            if (!ctx.Access.IsAllowed(principal, permission, ns))
            {
                string what = ns is null ? "the cluster" : $"namespace '{ns}'";
                return Error(StatusCodes.Status403Forbidden, "forbidden", $"{principal} may not {permission.ToString().ToLowerInvariant()} {what}");
            }
            var client = await ctx.ClientAsync().ConfigureAwait(false);
            return await handler(client).ConfigureAwait(false);
        }
        catch (HttpApiException e)
        {
            if (e.Status == StatusCodes.Status401Unauthorized)
                http.Response.Headers.WWWAuthenticate = "Basic realm=\"kv\", charset=\"UTF-8\"";
            return Error(e.Status, e.Error, e.Message);
        }
        catch (KvException e)
        {
            var (status, error) = Map(e);
            return Error(status, error, e.Message);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && http.RequestAborted.IsCancellationRequested)
        {
            // The client went away (mid-body, or while the store answered): nobody to answer.
            return Results.Empty;
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limits met while the body was read (too large, too slow).
            return Error(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? "value_too_large" : "bad_request", e.Message);
        }
    }

    /// <summary>The request's principal: the Basic credentials' user when they check out, anonymous when none are sent and that is allowed, else null.</summary>
    private static async Task<Principal?> PrincipalOf(HttpContext http, FrontEndContext ctx)
    {
        EndPoint? remote = http.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, http.Connection.RemotePort) : null;
        string? authorization = http.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(authorization))
            return ctx.Access.AnonymousFor(remote);
        if (!authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            throw new HttpApiException(StatusCodes.Status401Unauthorized, "unauthorized", "only HTTP Basic credentials are accepted");
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
        }
        catch (FormatException)
        {
            throw new HttpApiException(StatusCodes.Status400BadRequest, "bad_request", "the Authorization header is not base64");
        }
        int colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
            throw new HttpApiException(StatusCodes.Status400BadRequest, "bad_request", "the Basic credentials are not user:password");
        return await ctx.Access.AuthenticateAsync(decoded[..colon], decoded[(colon + 1)..], remote).ConfigureAwait(false);
    }

    /// <summary>A name from the route: ASP.NET leaves an encoded slash (%2F) encoded in a route value; a key may contain one.</summary>
    public static string RouteName(string value) =>
        value.Contains('%', StringComparison.Ordinal) ? value.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase) : value;

    /// <summary>The quorum parameters of the query string (r, w, dw, pr, pw, timeout, notfound_ok, basic_quorum, returnbody); 400 on a bad value.</summary>
    public static RequestOptions OptionsOf(HttpRequest request)
    {
        var q = request.Query;
        var options = new RequestOptions
        {
            R = Quorum(q, "r"),
            W = Quorum(q, "w"),
            DW = Quorum(q, "dw"),
            PR = Quorum(q, "pr"),
            PW = Quorum(q, "pw"),
            Timeout = q.TryGetValue("timeout", out var t) ? Duration("timeout", t.ToString()) : null,
            NotFoundOk = Flag(q, "notfound_ok"),
            BasicQuorum = Flag(q, "basic_quorum"),
            ReturnBody = Flag(q, "returnbody"),
        };
        return options;
    }

    private static int? Quorum(IQueryCollection q, string name)
    {
        if (!q.TryGetValue(name, out var v))
            return null;
        return int.TryParse(v.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 1000
            ? n
            : throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{name}={v}: a quorum is a whole number of replicas (0..1000)");
    }

    public static bool? Flag(IQueryCollection q, string name)
    {
        if (!q.TryGetValue(name, out var v))
            return null;
        return v.ToString().ToLowerInvariant() switch
        {
            "true" or "1" or "on" or "" => true,
            "false" or "0" or "off" => false,
            _ => throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{name}={v}: expected true or false"),
        };
    }

    /// <summary>A duration: 250ms, 5s, 2m, 1h, 3d, or a number of milliseconds.</summary>
    public static TimeSpan Duration(string name, string text)
    {
        text = text.Trim();
        (string digits, double unit) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 1.0),
            _ when text.EndsWith('s') => (text[..^1], 1000.0),
            _ when text.EndsWith('m') => (text[..^1], 60_000.0),
            _ when text.EndsWith('h') => (text[..^1], 3_600_000.0),
            _ when text.EndsWith('d') => (text[..^1], 86_400_000.0),
            _ => (text, 1.0),
        };
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n <= 0 || n * unit > TimeSpan.FromDays(3650).TotalMilliseconds)
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{name}={text}: expected a positive duration such as 500ms, 30s, 5m, 2h or 7d (at most 3650d)");
        return TimeSpan.FromMilliseconds(n * unit);
    }

    /// <summary>A causal context token from a header or body; 400 when it is not one.</summary>
    public static CausalContext ContextOf(string? token, string where)
    {
        if (string.IsNullOrEmpty(token))
            return CausalContext.Empty;
        try
        {
            return CausalContext.Parse(token.Trim().Trim('"'));
        }
        catch (FormatException e)
        {
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_context", $"{where}: {e.Message}");
        }
    }

    /// <summary>One value in JSON: UTF-8 text when it is valid UTF-8, else base64 (encoding = "base64").</summary>
    public static SiblingBody SiblingOf(KvValue v)
    {
        string? text = Utf8OrNull(v.Value);
        return new SiblingBody(v.ContentType, text ?? Convert.ToBase64String(v.Value), text is null ? "base64" : null, v.LastModified, v.ExpiresAt);
    }

    public static ObjectBody ObjectOf(KvObject o) => new(o.Key, o.Found, o.Context.ToString(), o.Siblings.Select(SiblingOf).ToList());

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private static string? Utf8OrNull(byte[] bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>A value given in JSON: text (UTF-8) unless <paramref name="encoding"/> is base64.</summary>
    public static byte[] ValueOf(string? value, string? encoding, string where)
    {
        if (value is null)
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{where}: a value is needed");
        switch (encoding?.ToLowerInvariant())
        {
            case null or "" or "utf-8" or "utf8" or "text":
                return Encoding.UTF8.GetBytes(value);
            case "base64":
                try
                {
                    return Convert.FromBase64String(value);
                }
                catch (FormatException)
                {
                    throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{where}: the value is not base64");
                }
            default:
                throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_request", $"{where}: encoding '{encoding}' is not utf-8 or base64");
        }
    }

    private static readonly JsonSerializerOptions JsonIn = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// The JSON body of a request as <typeparamref name="T"/>, read up to <paramref name="maxBytes"/>
    /// (413 beyond); 400 when it is not JSON of that shape, or not JSON at all.
    /// </summary>
    public static async Task<T> BodyAsync<T>(HttpRequest request, long maxBytes) where T : class
    {
        var bytes = await ReadBodyAsync(request, maxBytes).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, JsonIn)
                ?? throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_json", "the body is JSON null");
        }
        catch (JsonException e)
        {
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_json", $"the body is not the expected JSON: {e.Message}");
        }
    }

    /// <summary>A JSON object body (for the data-type operations); 400 when the body is not a JSON object.</summary>
    public static async Task<JsonObject> ObjectBodyAsync(HttpRequest request, long maxBytes)
    {
        var bytes = await ReadBodyAsync(request, maxBytes).ConfigureAwait(false);
        try
        {
            return JsonNode.Parse(bytes) as JsonObject
                ?? throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_json", "the body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new HttpApiException(StatusCodes.Status400BadRequest, "invalid_json", $"the body is not JSON: {e.Message}");
        }
    }

    /// <summary>The request body, at most <paramref name="maxBytes"/> (413 beyond, before reading when Content-Length says so).</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpRequest request, long maxBytes)
    {
        if (request.ContentLength is { } declared && declared > maxBytes)
            throw new HttpApiException(StatusCodes.Status413PayloadTooLarge, "value_too_large", $"the body of {declared} bytes exceeds the limit of {maxBytes} bytes");
        using var buffer = new MemoryStream(request.ContentLength is { } n ? (int)n : 4096);
        var chunk = new byte[16 * 1024];
        while (true)
        {
            int read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted).ConfigureAwait(false);
            if (read == 0)
                break;
            if (buffer.Length + read > maxBytes)
                throw new HttpApiException(StatusCodes.Status413PayloadTooLarge, "value_too_large", $"the body exceeds the limit of {maxBytes} bytes");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}

/// <summary>An error: a short code (not_found, invalid_request, quorum_not_met, ...) and a message.</summary>
public sealed record ErrorBody(string Error, string Message);

/// <summary>One sibling: its content type, its value (UTF-8 text, or base64 when <see cref="Encoding"/> says so), when it was written and when it expires.</summary>
public sealed record SiblingBody(string ContentType, string Value, string? Encoding, DateTimeOffset LastModified, DateTimeOffset? ExpiresAt);

/// <summary>An object: found or not, its causal context and its siblings.</summary>
public sealed record ObjectBody(string Key, bool Found, string Context, IReadOnlyList<SiblingBody> Siblings);
