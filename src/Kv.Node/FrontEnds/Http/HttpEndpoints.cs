using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kv.Node.FrontEnds.Http;

/// <summary>
/// The HTTP/JSON API (docs/frontends/http.md): keys, batches, scans, data types, and its OpenAPI
/// document at /openapi/v1.json (which, like /health, needs no credentials).
/// </summary>
public static class HttpEndpoints
{
    /// <summary>The services the API needs (the OpenAPI document).</summary>
    public static void AddServices(IServiceCollection services) =>
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Kv HTTP API";
            doc.Info.Description = "Keys with causal contexts and siblings, batches, scans and data types of a Kv node. Errors are {error, message}.";
            return Task.CompletedTask;
        }));

    public static void Map(IEndpointRouteBuilder app, FrontEndContext ctx)
    {
        app.MapOpenApi();
        KeyEndpoints.Map(app, ctx);
        BatchEndpoints.Map(app, ctx);
        DataTypeEndpoints.Map(app, ctx);
    }
}
