using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Kv.Actors.Coordinators;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Security;

/// <summary>
/// The node's copy of the replicated user store (/user/kv-users): users with their password hashes
/// and grants, and the token secret, as a <see cref="UserDirectory"/> (a state-based CRDT). It is
/// kept in users.bin in the data directory (replaced whole on every change, loaded at start, so the
/// store survives a restart of the whole cluster), pushed to every member on each change and every
/// <see cref="SecurityOptions.GossipInterval"/>, and merged with what the others push. An
/// administration change waits for a majority of the members to have merged it (like a
/// write-majority); checks read the local copy (<see cref="KvAccessControl.Directory"/>). Handles
/// <see cref="Login"/> (answers a token) and <see cref="UserAdmin"/>.
/// </summary>
public sealed class UserStore : ReceiveActor, IWithTimers
{
    public const string FileName = "users.bin";
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(3);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly KvAccessControl _access;
    private readonly string _file;
    private readonly string _self;
    private Principal _principal = Principal.Anonymous;

    private sealed record GossipTick
    {
        public static readonly GossipTick Instance = new();
    }

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    public UserStore(KvAccessControl access, string dataDirectory, string self)
    {
        (_access, _self) = (access, self);
        _file = Path.Combine(dataDirectory, FileName);
        Receive<UserDirectoryGossip>(OnGossip);
        Receive<UserDirectoryAck>(_ => { });
        Receive<GossipTick>(_ => Push(ack: false));
        Receive<Login>(OnLogin);
        Receive<UserAdmin>(OnAdmin);
    }

    protected override void PreStart()
    {
        var dir = Load();
        if (dir.Secret is null)
            dir = dir.With(new ClusterSecret(RandomNumberGenerator.GetBytes(32), _access.Time.GetUtcNow().UtcTicks, _self));
        if (dir.Users.IsEmpty && _access.Options.InitialAdminPassword is { } password)
        {
            // Version 1: any change made on the cluster (a new password, a deletion) wins over it.
            // Every node of the cluster makes the same record (a salt of the cluster's name, origin
            // "bootstrap"): nodes that start at once agree on it, so a login token one of them
            // issues is not refused by another whose own bootstrap record lost the merge.
            byte[] salt = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("kv bootstrap admin/" + Context.System.Name))[..PasswordHash.SaltBytes];
            byte[] hash = PasswordHash.Derive(password, salt, _access.Options.HashIterations);
            dir = dir.With(new UserRecord("admin", salt, hash, _access.Options.HashIterations, [new Grant(Permission.Admin, Grant.All)], false, 1, "bootstrap"));
            _log.Info("user store: no users yet; created user 'admin' from kv.security.initial-admin-password (or KV_ADMIN_PASSWORD)");
        }
        Adopt(dir);
        Timers.StartPeriodicTimer(GossipTick.Instance, GossipTick.Instance, _access.Options.GossipInterval);
    }

    private UserDirectory Load()
    {
        if (!File.Exists(_file))
            return UserDirectory.Empty;
        try
        {
            return Wire.UserDirectoryCodec.Read(File.ReadAllBytes(_file));
        }
        catch (Exception e) when (e is IOException or FormatException or Google.Protobuf.InvalidProtocolBufferException)
        {
            // The other members still have it: start empty and take theirs.
            _log.Error("user store: {0} is unreadable ({1}); starting empty, the other members' copies fill it", _file, e.Message);
            return UserDirectory.Empty;
        }
    }

    /// <summary>Makes <paramref name="dir"/> this node's copy: saved, published to the checks. False if it changed nothing.</summary>
    private bool Adopt(UserDirectory dir)
    {
        bool changed = !dir.SameAs(_access.Directory) || !File.Exists(_file);
        if (!changed)
            return false;
        _access.Directory = dir;
        try
        {
            DurableFile.Replace(_file, Wire.UserDirectoryCodec.Write(dir));
        }
        catch (IOException e)
        {
            _log.Error("user store: could not save {0}: {1} (kept in memory; saved at the next change)", _file, e.Message);
        }
        return true;
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        var failure = _access.Check(message, Sender, out var inner, out var principal);
        if (failure is not null)
        {
            Sender.Tell(failure, Self);
            return true;
        }
        _principal = principal;
        try
        {
            return base.AroundReceive(receive, inner);
        }
        finally
        {
            _principal = Principal.Anonymous;
        }
    }

    private void OnGossip(UserDirectoryGossip gossip)
    {
        if (Adopt(_access.Directory.Merge(gossip.Directory)))
            _log.Debug("user store: merged a change from {0}", Sender.Path.Address);
        if (gossip.Ack)
            Sender.Tell(UserDirectoryAck.Instance, Self);
    }

    private List<Address> Others()
    {
        var cluster = ClusterExt.Get(Context.System);
        return cluster.State.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining or MemberStatus.Leaving && !m.Address.Equals(cluster.SelfAddress))
            .Select(m => m.Address).ToList();
    }

    private IActorRef StoreOn(Address node) => KvPaths.On(Context.System, node.ToString(), KvPaths.Users);

    /// <summary>Sends the whole store to every other member; with <paramref name="ack"/>, a task of how many merged it in time and of how many.</summary>
    private Task<(int Acks, int Others)> Push(bool ack)
    {
        var dir = _access.Directory;
        var others = Others();
        if (!ack)
        {
            foreach (var o in others)
                StoreOn(o).Tell(new UserDirectoryGossip(dir, false), Self);
            return Task.FromResult((0, others.Count));
        }
        var asks = others.Select(o => StoreOn(o).Ask<UserDirectoryAck>(new UserDirectoryGossip(dir, true), AckTimeout)).ToList();
        return Task.WhenAll(asks.Select(a => a.ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default)))
            .ContinueWith(t => (t.Result.Count(ok => ok), others.Count), TaskScheduler.Default);
    }

    private void OnLogin(Login login)
    {
        var replyTo = Sender;
        var address = Sender.Path.Address;
        EndPoint? remote = address.HasLocalScope ? null : new DnsEndPoint(address.Host ?? "", address.Port ?? 0);
        if (!_access.Options.Authentication)
        {
            replyTo.Tell(new LoginReply("", 0, null), Self); // authentication off: no token needed
            return;
        }
        if (login.User.Length is 0 or > 256 || login.Password.Length > 1024)
        {
            replyTo.Tell(new LoginReply(null, 0, "wrong user name or password"), Self);
            return;
        }
        var access = _access;
        access.AuthenticateAsync(login.User, login.Password, remote).ContinueWith(t =>
        {
            if (!t.IsCompletedSuccessfully || t.Result is not { } principal)
                return new LoginReply(null, 0, "wrong user name or password (or too many failed logins: wait and try again)");
            return access.IssueToken(principal) is { } issued
                ? new LoginReply(issued.Token, issued.Expires.ToUnixTimeMilliseconds(), null)
                : new LoginReply(null, 0, "the cluster has no token secret yet: try again in a moment");
        }, TaskScheduler.Default).PipeTo(replyTo, Self);
    }

    /// <summary>A user name: 1..64 of letters, digits, '-', '_', '.', '@'.</summary>
    public static string? NameProblem(string name) =>
        name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@')
            ? $"a user name must be 1..64 characters of letters, digits, '-', '_', '.', '@' (got '{(name.Length > 64 ? name[..64] + "..." : name)}')"
            : null;

    private void OnAdmin(UserAdmin admin)
    {
        var principal = _principal;
        if (admin.Op == UserAdminOp.List)
        {
            var users = _access.Directory.Live.Select(u => new UserInfo(u.Name, u.Grants)).ToList();
            Sender.Tell(new UserAdminReply(true, $"{users.Count} users", users), Self);
            return;
        }
        if (admin.Op == UserAdminOp.SetPassword && principal.Name != admin.User && !_access.IsAllowed(principal, Permission.Admin, null))
        {
            Sender.Tell(new RequestFailed($"user '{principal}' may change only their own password (admin changes any)", FailureCode.AccessDenied), Self);
            return;
        }
        if (Apply(admin, out string message) is not { } record)
        {
            Sender.Tell(new UserAdminReply(false, message, []), Self);
            return;
        }
        Adopt(_access.Directory.With(record));
        _log.Info("user store: {0} by {1}", message, principal);
        var replyTo = Sender;
        Push(ack: true).ContinueWith(t =>
        {
            var (acks, others) = t.Result;
            int total = others + 1;
            bool majority = (acks + 1) * 2 > total;
            return new UserAdminReply(majority, majority
                ? $"{message} (on {acks + 1} of {total} nodes)"
                : $"{message} on this node, but only {acks + 1} of {total} nodes confirmed it in time; it spreads to the others when they are reachable", []);
        }, TaskScheduler.Default).PipeTo(replyTo, Self);
    }

    /// <summary>The new record for a change, or null and why not.</summary>
    private UserRecord? Apply(UserAdmin admin, out string message)
    {
        var dir = _access.Directory;
        var existing = dir.Find(admin.User);
        long version = Math.Max(_access.Time.GetUtcNow().UtcTicks, (dir.Users.TryGetValue(admin.User, out var any) ? any.Version : 0) + 1);
        int iterations = _access.Options.HashIterations;
        if (NameProblem(admin.User) is { } bad)
        {
            message = bad;
            return null;
        }
        switch (admin.Op)
        {
            case UserAdminOp.Add or UserAdminOp.SetPassword:
            {
                if (admin.Op == UserAdminOp.Add && existing is not null)
                {
                    message = $"user '{admin.User}' exists (kv user passwd changes the password)";
                    return null;
                }
                if (admin.Op == UserAdminOp.SetPassword && existing is null)
                {
                    message = $"no user '{admin.User}'";
                    return null;
                }
                if (PasswordHash.Problem(admin.Password) is { } weak)
                {
                    message = weak;
                    return null;
                }
                var (salt, hash) = PasswordHash.Create(admin.Password!, iterations);
                message = admin.Op == UserAdminOp.Add ? $"user '{admin.User}' added" : $"password of user '{admin.User}' changed";
                return new UserRecord(admin.User, salt, hash, iterations, existing?.Grants ?? [], false, version, _self);
            }
            case UserAdminOp.Delete:
                if (existing is null)
                {
                    message = $"no user '{admin.User}'";
                    return null;
                }
                message = $"user '{admin.User}' deleted";
                return new UserRecord(admin.User, [], [], 0, [], true, version, _self);
            case UserAdminOp.Grant or UserAdminOp.Revoke:
            {
                if (existing is null)
                {
                    message = $"no user '{admin.User}'";
                    return null;
                }
                string ns = admin.Permission == Permission.Admin ? Grant.All : admin.Namespace;
                if (ns.Length is 0 or > 255)
                {
                    message = "a grant needs a namespace (1..255 bytes) or * (every namespace)";
                    return null;
                }
                var grant = new Grant(admin.Permission, ns);
                var grants = existing.Grants.ToList();
                bool has = grants.Contains(grant);
                if (admin.Op == UserAdminOp.Grant ? has : !has)
                {
                    message = admin.Op == UserAdminOp.Grant ? $"user '{admin.User}' already has {grant}" : $"user '{admin.User}' does not have {grant}";
                    return null;
                }
                if (admin.Op == UserAdminOp.Grant)
                    grants.Add(grant);
                else
                    grants.Remove(grant);
                message = admin.Op == UserAdminOp.Grant ? $"granted {grant} to '{admin.User}'" : $"revoked {grant} from '{admin.User}'";
                return existing with { Grants = grants.ToImmutableList(), Version = version, Origin = _self };
            }
            default:
                message = $"unknown user operation {admin.Op}";
                return null;
        }
    }
}
