using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Kv.Node.FrontEnds.Http;

/// <summary>OpenAPI annotations that do not constrain the requests an endpoint matches.</summary>
public static class OpenApiExtensions
{
    /// <summary>
    /// Documents a request body of <typeparamref name="T"/> (.Accepts would also refuse, with 415,
    /// any request of another Content-Type, and curl's -d sends a form type).
    /// </summary>
    public static RouteHandlerBuilder RequestBody<T>(this RouteHandlerBuilder builder, string contentType) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken).ConfigureAwait(false);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType> { [contentType] = new() { Schema = schema } },
            };
        });
}
