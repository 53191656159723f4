using System.Net;
using Akka.Actor;
using Kv.Actors.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kv.Node.FrontEnds;

/// <summary>
/// The node's front ends on one Kestrel server, started after the store (<see cref="NodeService"/>)
/// and stopped before it: HTTP on kv.http (the endpoints of each area are mapped in
/// <see cref="MapEndpoints"/>) and RESP on kv.resp. A port of 0 turns that front end off; with
/// both off no server runs. A port in use stops the node at start, naming it.
/// </summary>
public sealed class FrontEndService(NodeSettings settings, NodeService nodeService, ActorSystem system, IAccessControl access, ILoggerFactory loggers) : IHostedService
{
    private readonly ILogger _log = loggers.CreateLogger("Kv.FrontEnds");
    private WebApplication? _app;
    private FrontEndContext? _context;

    /// <summary>The shared state of the front ends (null before start or when both are off).</summary>
    public FrontEndContext? Context => _context;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!settings.Http.Enabled && !settings.Resp.Enabled)
            return;
        var node = nodeService.Node ?? throw new InvalidOperationException("the store is not started");
        _context = new FrontEndContext(settings, node, system, access, loggers);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Services.AddSingleton(loggers);
        builder.Services.AddSingleton(_context);
        OpsEndpoints.AddServices(builder.Services, _context);
        if (settings.Http.Enabled)
            Http.HttpEndpoints.AddServices(builder.Services);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Bounded per connection and per request: a slow or hostile client cannot hold memory.
            k.Limits.MaxRequestBodySize = settings.Store.MaxObjectBytes + 1024 * 1024;
            k.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            if (settings.Http.Enabled)
            {
                var cert = settings.Http.Tls is { } tls ? FrontEndCertificate.Load(tls) : null;
                Listen(k, settings.Http, o =>
                {
                    if (cert is not null)
                        o.UseHttps(cert);
                });
            }
            if (settings.Resp.Enabled)
                Listen(k, settings.Resp, l =>
                {
                    if (settings.RespOptions.Tls)
                        l.UseHttps(settings.Ssl?.Certificate ?? throw new NodeStartupException("kv.resp.tls: no node certificate (kv.remote.secure)"));
                    l.UseConnectionHandler<Resp.RespConnectionHandler>();
                });
        });
        var app = builder.Build();
        MapEndpoints(app, _context);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new NodeStartupException($"a front-end port could not be opened (kv.http {settings.Http.Hostname}:{settings.Http.Port}, kv.resp {settings.Resp.Hostname}:{settings.Resp.Port}): {e.Message}");
        }
        _app = app;
        if (settings.Http.Enabled)
            _log.LogInformation("{Scheme} on {Host}:{Port}", settings.Http.Tls is null ? "HTTP" : "HTTPS", settings.Http.Hostname, settings.Http.Port);
        if (settings.Resp.Enabled)
            _log.LogInformation("RESP on {Host}:{Port}{Tls}", settings.Resp.Hostname, settings.Resp.Port, settings.RespOptions.Tls ? " (TLS)" : "");
    }

    /// <summary>Every area's HTTP endpoints.</summary>
    private static void MapEndpoints(WebApplication app, FrontEndContext ctx)
    {
        HealthEndpoints.Map(app, ctx);
        OpsEndpoints.Map(app, ctx);
        Http.HttpEndpoints.Map(app, ctx);
    }

    private static void Listen(KestrelServerOptions k, FrontEndEndpoint endpoint, Action<ListenOptions> configure)
    {
        if (endpoint.Hostname is "localhost")
            k.ListenLocalhost(endpoint.Port, configure);
        else if (IPAddress.TryParse(endpoint.Hostname, out var ip))
            k.Listen(ip, endpoint.Port, configure);
        else
            k.Listen(Dns.GetHostAddresses(endpoint.Hostname).First(), endpoint.Port, configure);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
        if (_context is { } ctx)
            await ctx.CloseAsync().ConfigureAwait(false);
    }
}
