using System.Net;
using System.Text;
using Kv.Actors.Security;
using Kv.Node.FrontEnds;
using Kv.Node.FrontEnds.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests;

/// <summary>
/// The HTTP API's use of the access-control seam (<see cref="IAccessControl"/>), in process: Basic
/// credentials are handed to AuthenticateAsync, a request without them runs as AnonymousFor(remote),
/// no principal is 401 with WWW-Authenticate, a refused permission is 403, and in both cases the
/// operation does not run.
/// </summary>
public sealed class HttpAccessSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-http-access-").FullName;

    /// <summary>One user, alice/secret, who may read namespace "public" only; anonymous access from loopback only.</summary>
    private sealed class OneUser : IAccessControl
    {
        public List<(string User, string Password)> Attempts { get; } = [];

        public Task<Principal?> AuthenticateAsync(string user, string password, EndPoint? remote)
        {
            Attempts.Add((user, password));
            return Task.FromResult(user == "alice" && password == "sec:ret" ? new Principal("alice") : null);
        }

        public Principal? AnonymousFor(EndPoint? remote) =>
            remote is IPEndPoint ip && IPAddress.IsLoopback(ip.Address) ? Principal.Anonymous : null;

        public bool IsAllowed(Principal principal, Permission permission, string? ns) =>
            !principal.IsAnonymous && permission == Permission.Read && ns == "public";
    }

    private (FrontEndContext Ctx, OneUser Access) Context()
    {
        var settings = NodeSettings.Load(NodeArguments.Parse(["--data-dir", _dir]));
        var access = new OneUser();
        // No store behind it: a request that passed the checks would need the client and fail the spec.
        return (new FrontEndContext(settings, null!, null!, access, NullLoggerFactory.Instance), access);
    }

    private static DefaultHttpContext Request(string remote, string? authorization = null)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        http.Connection.RemotePort = 50000;
        if (authorization is not null)
            http.Request.Headers.Authorization = authorization;
        return http;
    }

    private static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));

    private static async Task<(int Status, string Error)> Run(FrontEndContext ctx, HttpContext http, string ns, Permission permission)
    {
        bool ran = false;
        var result = await HttpApi.Guarded(http, ctx, ns, permission, _ =>
        {
            ran = true;
            return Task.FromResult(Results.Ok());
        });
        Assert.False(ran, "the operation ran although it was refused");
        var error = Assert.IsType<JsonHttpResult<ErrorBody>>(result);
        return (error.StatusCode!.Value, error.Value!.Error);
    }

    [Fact]
    public async Task No_principal_is_401_with_a_basic_challenge_and_a_refused_permission_is_403()
    {
        var (ctx, access) = Context();

        // Anonymous from elsewhere than loopback: no principal.
        var far = Request("10.1.2.3");
        Assert.Equal((401, "unauthorized"), await Run(ctx, far, "public", Permission.Read));
        Assert.StartsWith("Basic realm=\"kv\"", far.Response.Headers.WWWAuthenticate.ToString(), StringComparison.Ordinal);

        // Wrong password: 401; the password (with a colon in it) reaches the access control whole.
        var wrong = Request("10.1.2.3", Basic("alice", "nope"));
        Assert.Equal((401, "unauthorized"), await Run(ctx, wrong, "public", Permission.Read));
        Assert.Equal([("alice", "nope")], access.Attempts);

        // Anonymous from loopback is a principal, but not allowed: 403.
        Assert.Equal((403, "forbidden"), await Run(ctx, Request("127.0.0.1"), "public", Permission.Read));

        // alice may read "public" only: writing it, reading another namespace, or administering is 403.
        Assert.Equal((403, "forbidden"), await Run(ctx, Request("10.1.2.3", Basic("alice", "sec:ret")), "public", Permission.Write));
        Assert.Equal((403, "forbidden"), await Run(ctx, Request("10.1.2.3", Basic("alice", "sec:ret")), "private", Permission.Read));
        Assert.Equal(("alice", "sec:ret"), access.Attempts[^1]);

        // Credentials of another scheme, or Basic that is not base64: refused before the access control.
        Assert.Equal((401, "unauthorized"), await Run(ctx, Request("10.1.2.3", "Bearer token"), "public", Permission.Read));
        Assert.Equal((400, "bad_request"), await Run(ctx, Request("10.1.2.3", "Basic %%%"), "public", Permission.Read));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }
}
