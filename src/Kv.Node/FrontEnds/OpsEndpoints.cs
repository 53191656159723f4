using System.Net;
using System.Reflection;
using System.Text;
using Kv.Actors.Metrics;
using Kv.Actors.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Kv.Node.FrontEnds;

/// <summary>
/// Operations on the HTTP port: /metrics (OpenTelemetry's Prometheus exporter over the node's
/// Meter "Kv"), the live dashboard page at / and /dashboard, and its data at /api/dashboard (see
/// <see cref="DashboardData"/>). The page itself holds no data and needs no credentials; /metrics
/// and /api/dashboard need cluster-wide read (HTTP Basic, or the anonymous principal the access
/// control allows from the caller's address): 401 with WWW-Authenticate when the caller is nobody,
/// 403 when not allowed.
/// </summary>
public static class OpsEndpoints
{
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is not embedded in Kv.Node");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>The metrics pipeline: the meter "Kv" exported for Prometheus (scraped at /metrics).</summary>
    public static void AddServices(IServiceCollection services, FrontEndContext ctx) =>
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("kv-node", serviceInstanceId: ctx.Node.Self))
            .WithMetrics(m => m
            .AddMeter(KvMetrics.MeterName)
            // Every scrape reads the values now (the exporter's default keeps an answer 300 ms).
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

    public static void Map(WebApplication app, FrontEndContext ctx)
    {
        app.Use(async (http, next) =>
        {
            var path = http.Request.Path;
            if (path.StartsWithSegments("/metrics") || path.StartsWithSegments("/api/dashboard"))
            {
                var principal = await PrincipalOf(http, ctx).ConfigureAwait(false);
                if (principal is null)
                {
                    http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    http.Response.Headers.WWWAuthenticate = "Basic realm=\"kv\", charset=\"UTF-8\"";
                    await http.Response.WriteAsync("credentials required\n").ConfigureAwait(false);
                    return;
                }
                if (!ctx.Access.IsAllowed(principal, Permission.Read, null))
                {
                    http.Response.StatusCode = StatusCodes.Status403Forbidden;
                    await http.Response.WriteAsync($"{principal} may not read the cluster's metrics\n").ConfigureAwait(false);
                    return;
                }
            }
            await next(http).ConfigureAwait(false);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/", () => Results.Bytes(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/dashboard", () => Results.Bytes(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/api/dashboard", async () => Results.Json(await DashboardData.BuildAsync(ctx).ConfigureAwait(false)));
    }

    /// <summary>Who the request runs as: the HTTP Basic user if it sent one (null if refused), else the anonymous principal allowed from its address (or null).</summary>
    private static async Task<Principal?> PrincipalOf(HttpContext http, FrontEndContext ctx)
    {
        EndPoint? remote = http.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, http.Connection.RemotePort) : null;
        string header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            return ctx.Access.AnonymousFor(remote);
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
        }
        catch (FormatException)
        {
            return null;
        }
        int colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
            return null;
        return await ctx.Access.AuthenticateAsync(decoded[..colon], decoded[(colon + 1)..], remote).ConfigureAwait(false);
    }
}
