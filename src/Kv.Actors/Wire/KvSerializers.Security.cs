using System.Collections.Immutable;
using Google.Protobuf;
using Kv.Actors.Protos;
using Kv.Actors.Security;

namespace Kv.Actors.Wire;

/// <summary>
/// Wire types of users and access control (ids 330..336): the token envelope (nesting any client
/// request under its own type id), login, user administration, and the user store's gossip.
/// </summary>
internal static partial class KvSerializers
{
    private static void AddSecurity(Dictionary<int, IWireCodec> registry)
    {
        Add<Authorized, AuthorizedData>(registry, 330,
            m => new AuthorizedData { Token = m.Token, Message = NestAny(m.Message) },
            d => new Authorized(d.Token, UnnestAny(d.Message)));
        Add<Login, LoginData>(registry, 331, m => new LoginData { User = m.User, Password = m.Password }, d => new Login(d.User, d.Password));
        Add<LoginReply, LoginReplyData>(registry, 332,
            m => new LoginReplyData { HasToken = m.Token is not null, Token = m.Token ?? "", ExpiresUnixMs = m.ExpiresUnixMs, HasError = m.Error is not null, Error = m.Error ?? "" },
            d => new LoginReply(d.HasToken ? d.Token : null, d.ExpiresUnixMs, d.HasError ? d.Error : null));
        Add<UserAdmin, UserAdminData>(registry, 333,
            m => new UserAdminData { Op = (int)m.Op, User = m.User, HasPassword = m.Password is not null, Password = m.Password ?? "", Permission = (int)m.Permission, Ns = m.Namespace },
            d => new UserAdmin(Enum.IsDefined((UserAdminOp)d.Op) ? (UserAdminOp)d.Op : throw new FormatException($"unknown user operation {d.Op}"),
                d.User, d.HasPassword ? d.Password : null, PermissionOf(d.Permission), d.Ns));
        Add<UserAdminReply, UserAdminReplyData>(registry, 334,
            m => new UserAdminReplyData { Ok = m.Ok, Message = m.Message, Users = { m.Users.Select(u => new UserInfoData { Name = u.Name, Grants = { u.Grants.Select(UserDirectoryCodec.ToWire) } }) } },
            d => new UserAdminReply(d.Ok, d.Message, d.Users.Select(u => new UserInfo(u.Name, u.Grants.Select(UserDirectoryCodec.FromWire).ToList())).ToList()));
        Add<UserDirectoryGossip, UserDirectoryGossipData>(registry, 335,
            m => new UserDirectoryGossipData { Directory = UserDirectoryCodec.ToWire(m.Directory), Ack = m.Ack },
            d => new UserDirectoryGossip(UserDirectoryCodec.FromWire(d.Directory ?? throw new FormatException("user store missing")), d.Ack));
        Add<UserDirectoryAck, EmptyData>(registry, 336, _ => new EmptyData(), _ => UserDirectoryAck.Instance);
    }

    internal static Permission PermissionOf(int p) =>
        Enum.IsDefined((Permission)p) ? (Permission)p : throw new FormatException($"unknown permission {p}");

    /// <summary>Any store message but an envelope, under its type id.</summary>
    private static NestedMessageData NestAny(object message)
    {
        _idOf ??= ById.ToDictionary(e => e.Value.Type, e => e.Key);
        if (message is Authorized || !_idOf.TryGetValue(message.GetType(), out int id))
            throw new System.Runtime.Serialization.SerializationException($"kv: a {message.GetType().Name} cannot travel in an authorized envelope");
        return new NestedMessageData { Type = id, Payload = UnsafeByteOperations.UnsafeWrap(ById[id].Write(message)) };
    }

    private static object UnnestAny(NestedMessageData? nested)
    {
        if (nested is null)
            throw new FormatException("an authorized envelope is missing its message");
        if (!ById.TryGetValue(nested.Type, out var codec) || codec.Type == typeof(Authorized))
            throw new FormatException($"a message of type {nested.Type} is not allowed in an authorized envelope");
        return codec.Read(nested.Payload.ToByteArray());
    }
}

/// <summary>The user store's encoding: on the wire (gossip) and in users.bin.</summary>
internal static class UserDirectoryCodec
{
    public static byte[] Write(UserDirectory dir) => ToWire(dir).ToByteArray();

    public static UserDirectory Read(byte[] bytes) => FromWire(UserDirectoryData.Parser.ParseFrom(bytes));

    public static GrantData ToWire(Grant g) => new() { Permission = (int)g.Permission, Ns = g.Namespace };

    public static Grant FromWire(GrantData d) =>
        d.Ns.Length is 0 or > 255 ? throw new FormatException("a grant's namespace must be 1..255 characters") : new Grant(KvSerializers.PermissionOf(d.Permission), d.Ns);

    public static UserDirectoryData ToWire(UserDirectory dir)
    {
        var d = new UserDirectoryData
        {
            Users =
            {
                dir.Users.Values.OrderBy(u => u.Name, StringComparer.Ordinal).Select(u => new UserRecordData
                {
                    Name = u.Name, Salt = ByteString.CopyFrom(u.Salt), Hash = ByteString.CopyFrom(u.Hash), Iterations = u.Iterations,
                    Grants = { u.Grants.Select(ToWire) }, Deleted = u.Deleted, Version = u.Version, Origin = u.Origin,
                }),
            },
        };
        if (dir.Secret is { } s)
        {
            d.HasSecret = true;
            d.Secret = new ClusterSecretData { Key = ByteString.CopyFrom(s.Key), Version = s.Version, Origin = s.Origin };
        }
        return d;
    }

    public static UserDirectory FromWire(UserDirectoryData d)
    {
        var users = ImmutableDictionary.CreateBuilder<string, UserRecord>(StringComparer.Ordinal);
        foreach (var u in d.Users)
        {
            if (u.Name.Length is 0 or > 64)
                throw new FormatException("a user name must be 1..64 characters");
            if (!u.Deleted && (u.Salt.Length != PasswordHash.SaltBytes || u.Hash.Length != PasswordHash.HashBytes || u.Iterations < 1))
                throw new FormatException($"user '{u.Name}': malformed password hash");
            var record = new UserRecord(u.Name, u.Salt.ToByteArray(), u.Hash.ToByteArray(), u.Iterations, u.Grants.Select(FromWire).ToImmutableList(), u.Deleted, u.Version, u.Origin);
            if (!users.TryGetValue(u.Name, out var old) || record.Supersedes(old))
                users[u.Name] = record;
        }
        ClusterSecret? secret = null;
        if (d.HasSecret)
        {
            if (d.Secret is null || d.Secret.Key.Length < 16)
                throw new FormatException("malformed token secret");
            secret = new ClusterSecret(d.Secret.Key.ToByteArray(), d.Secret.Version, d.Secret.Origin);
        }
        return new UserDirectory(users.ToImmutable(), secret);
    }
}
