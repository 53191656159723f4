using Akka.Actor;
using Kv.Actors;
using Kv.Actors.Coordinators;
using Kv.Actors.Security;

namespace Kv.Client;

/// <summary>The cluster refused the request: it needs a logged-in user, or the login failed, or the token is no longer valid (docs/security.md).</summary>
public sealed class KvAuthenticationException(string message) : KvException(message);

/// <summary>The user's grants do not allow the request.</summary>
public sealed class KvAccessDeniedException(string message) : KvException(message);

public sealed partial class KvClient
{
    /// <summary>The login token (null: not logged in; "": the cluster runs without authentication).</summary>
    public string? Token => _routing.Session.Token;

    internal async Task LogInIfAskedAsync()
    {
        if (Options.User is null)
            return;
        _routing.Session.Refresh = LogInAsync;
        await LogInAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Logs in as <see cref="KvClientOptions.User"/> (done by <see cref="ConnectAsync"/>; the client
    /// logs in again before the token expires). Throws <see cref="KvAuthenticationException"/> when
    /// refused (wrong user or password, too many failed logins).
    /// </summary>
    public async Task LogInAsync()
    {
        string user = Options.User ?? throw new KvAuthenticationException("no user to log in as (KvClientOptions.User)");
        var login = new Login(user, Options.Password ?? "");
        var nodes = Routing.Nodes;
        foreach (string node in nodes)
        {
            object reply;
            try
            {
                reply = await KvPaths.On(_system, node, KvPaths.Users).Ask<object>(login, Options.AttemptTimeout).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                continue;
            }
            switch (reply)
            {
                case LoginReply { Token: { } token } ok:
                    _routing.Session.Set(token, ok.ExpiresUnixMs);
                    return;
                case LoginReply refused:
                    throw new KvAuthenticationException($"login as '{user}' refused: {refused.Error}");
                case RequestFailed f:
                    throw ((KvFailure)Replies.Map("", "", f)).Error;
                default:
                    throw new KvException($"unexpected reply to a login: {reply}");
            }
        }
        throw new KvUnavailableException($"no node answered the login in time (tried {string.Join(", ", nodes)})");
    }

    /// <summary>Adds a user (no grants). Needs admin.</summary>
    public Task<UserAdminReply> AddUserAsync(string user, string password) => Users(new UserAdmin(UserAdminOp.Add, user, password));

    /// <summary>Sets a user's password (admin, or the user themself); their tokens stop working.</summary>
    public Task<UserAdminReply> SetPasswordAsync(string user, string password) => Users(new UserAdmin(UserAdminOp.SetPassword, user, password));

    /// <summary>Deletes a user. Needs admin.</summary>
    public Task<UserAdminReply> DeleteUserAsync(string user) => Users(new UserAdmin(UserAdminOp.Delete, user));

    /// <summary>Every user and their grants. Needs admin.</summary>
    public async Task<IReadOnlyList<UserInfo>> ListUsersAsync() => (await Users(new UserAdmin(UserAdminOp.List, "")).ConfigureAwait(false)).Users;

    /// <summary>Grants <paramref name="permission"/> on <paramref name="ns"/> ("*": every namespace; admin is always cluster-wide). Needs admin.</summary>
    public Task<UserAdminReply> GrantAsync(string user, Permission permission, string ns) => Users(new UserAdmin(UserAdminOp.Grant, user, null, permission, ns));

    /// <summary>Revokes a grant. Needs admin.</summary>
    public Task<UserAdminReply> RevokeAsync(string user, Permission permission, string ns) => Users(new UserAdmin(UserAdminOp.Revoke, user, null, permission, ns));

    // To the user store of a reachable node, with the token (renewed when refused); a refusal becomes a typed exception.
    private async Task<UserAdminReply> Users(UserAdmin request)
    {
        var nodes = Routing.Nodes; // healthy first
        foreach (string node in nodes)
        {
            object reply;
            try
            {
                reply = await RenewingAsync(
                    () => KvPaths.On(_system, node, KvPaths.Users).Ask<object>(_routing.Session.Wrap(request), Options.AttemptTimeout + TimeSpan.FromSeconds(4)),
                    TokenRefused).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                continue;
            }
            return reply switch
            {
                UserAdminReply r => r,
                RequestFailed f => throw ((KvFailure)Replies.Map("", "", f)).Error,
                _ => throw new KvException($"unexpected reply to {request.Op}: {reply}"),
            };
        }
        throw new KvTimeoutException($"no node answered the user request in time (tried {string.Join(", ", nodes)})");
    }

    private static bool TokenRefused(object reply) => reply is RequestFailed { Code: FailureCode.NotAuthenticated };

    // To one node's admin actor, with the token (renewed when refused, as for every request).
    private async Task<T> AdminOn<T>(string node, object message)
    {
        var reply = await RenewingAsync(
            () => KvPaths.On(_system, AddressOf(node), KvPaths.Admin).Ask<object>(_routing.Session.Wrap(message), Options.AttemptTimeout),
            TokenRefused).ConfigureAwait(false);
        return reply switch
        {
            T t => t,
            RequestFailed f => throw ((KvFailure)Replies.Map("", "", f)).Error,
            _ => throw new KvException($"unexpected reply {reply.GetType().Name}: {reply}"),
        };
    }
}
