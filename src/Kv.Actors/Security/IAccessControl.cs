using System.Net;

namespace Kv.Actors.Security;

/// <summary>What a request needs: read or write on a namespace, or administration of the cluster.</summary>
public enum Permission
{
    Read,
    Write,
    Admin,
}

/// <summary>Who a request runs as: a user, or <see cref="Anonymous"/>.</summary>
public sealed record Principal(string Name)
{
    public static readonly Principal Anonymous = new("");

    public bool IsAnonymous => Name.Length == 0;

    public override string ToString() => IsAnonymous ? "(anonymous)" : Name;
}

/// <summary>
/// The front ends' (HTTP, RESP, the client protocol) view of users and grants: who a connection
/// is, and whether it may do what it asks.
/// </summary>
public interface IAccessControl
{
    /// <summary>Checks a user's password: the principal, or null when refused (unknown user, wrong password, too many failures). Never logs the password.</summary>
    Task<Principal?> AuthenticateAsync(string user, string password, EndPoint? remote);

    /// <summary>The principal of a connection that has not authenticated: <see cref="Principal.Anonymous"/> when anonymous access is allowed from <paramref name="remote"/>, else null.</summary>
    Principal? AnonymousFor(EndPoint? remote);

    /// <summary>Whether <paramref name="principal"/> may do <paramref name="permission"/> on namespace <paramref name="ns"/> (null: cluster-wide, which a grant on every namespace, `*`, or admin gives).</summary>
    bool IsAllowed(Principal principal, Permission permission, string? ns);
}

/// <summary>No users, no checks: every connection is anonymous and may do everything.</summary>
public sealed class OpenAccess : IAccessControl
{
    public static readonly OpenAccess Instance = new();

    public Task<Principal?> AuthenticateAsync(string user, string password, EndPoint? remote) => Task.FromResult<Principal?>(new Principal(user));

    public Principal? AnonymousFor(EndPoint? remote) => Principal.Anonymous;

    public bool IsAllowed(Principal principal, Permission permission, string? ns) => true;
}
