namespace Kv.Actors.Security;

/// <summary>
/// A client request with the client's login token: the node checks the token and the user's grant
/// for <see cref="Message"/>, then handles it as if it came alone (the reply goes to the sender).
/// </summary>
public sealed record Authorized(string Token, object Message);

/// <summary>A client logs in (to /user/kv-users on any node). Reply: <see cref="LoginReply"/>.</summary>
public sealed record Login(string User, string Password)
{
    public override string ToString() => $"Login {{ User = {User}, Password = *** }}";
}

/// <summary>The token (valid until <see cref="ExpiresUnixMs"/>), or why the login was refused.</summary>
public sealed record LoginReply(string? Token, long ExpiresUnixMs, string? Error);

/// <summary>What a user-administration request does.</summary>
public enum UserAdminOp
{
    Add = 1,
    SetPassword = 2,
    Delete = 3,
    List = 4,
    Grant = 5,
    Revoke = 6,
}

/// <summary>
/// User administration (to /user/kv-users): add, set password, delete, list, grant, revoke. Needs
/// admin, except a user changing their own password. Reply: <see cref="UserAdminReply"/>.
/// </summary>
public sealed record UserAdmin(UserAdminOp Op, string User, string? Password = null, Permission Permission = Permission.Read, string Namespace = "")
{
    public override string ToString() => $"UserAdmin {{ Op = {Op}, User = {User}, Permission = {Permission}, Namespace = {Namespace} }}";
}

/// <summary>One user and their grants (as listed).</summary>
public sealed record UserInfo(string Name, IReadOnlyList<Grant> Grants);

/// <summary>The answer to <see cref="UserAdmin"/>: done or not (and why), how many nodes have the change, the users for List.</summary>
public sealed record UserAdminReply(bool Ok, string Message, IReadOnlyList<UserInfo> Users);

/// <summary>Between nodes: a node's whole user store, merged by the receiver; answered with <see cref="UserDirectoryAck"/> when <see cref="Ack"/>.</summary>
public sealed record UserDirectoryGossip(UserDirectory Directory, bool Ack);

/// <summary>Between nodes: the receiver has merged a <see cref="UserDirectoryGossip"/>.</summary>
public sealed record UserDirectoryAck
{
    public static readonly UserDirectoryAck Instance = new();
}
