using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Node.FrontEnds;

/// <summary>
/// /health/live (the process answers) and /health/ready (this node is an Up member with a ring
/// and its vnodes serving: a load balancer may send it requests). Never need credentials.
/// </summary>
public static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder app, FrontEndContext ctx)
    {
        app.MapGet("/health/live", () => Results.Json(new { status = "live", node = ctx.Node.Self }));
        app.MapGet("/health/ready", async () =>
        {
            var cluster = ClusterExt.Get(ctx.System);
            bool up = cluster.SelfMember.Status == MemberStatus.Up;
            bool serving;
            try
            {
                serving = up && await ctx.Node.IsServingAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is Akka.Actor.AskTimeoutException or TaskCanceledException)
            {
                serving = false;
            }
            var body = new { status = serving ? "ready" : "not ready", node = ctx.Node.Self, member = cluster.SelfMember.Status.ToString(), serving };
            return Results.Json(body, statusCode: serving ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
    }
}
