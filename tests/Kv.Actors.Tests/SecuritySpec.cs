using System.Collections.Immutable;
using System.Net;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Kv.Actors.Coordinators;
using Kv.Actors.Security;
using Kv.Client;
using Xunit;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Tests;

/// <summary>Users and access control: hashing, the replicated store's merge, tokens, grants, the failed-login lockout, and a node's router, admin and user actors refusing what a user may not do (through the .NET client).</summary>
public sealed class SecuritySpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly SecurityOptions Fast = new() { Authentication = true, AnonymousLoopback = false, HashIterations = 1000, MaxFailures = 3, LockoutBase = TimeSpan.FromSeconds(10) };

    private static UserRecord User(string name, string password, long version, string origin = "n1", params Grant[] grants)
    {
        var (salt, hash) = PasswordHash.Create(password, 1000);
        return new UserRecord(name, salt, hash, 1000, grants, false, version, origin);
    }

    internal static UserDirectory SampleDirectory() => UserDirectory.Empty
        .With(User("reader", "pw", 5, "n1", new Grant(Permission.Read, "default")))
        .With(new UserRecord("gone", [], [], 0, [], true, 9, "n2"))
        .With(new ClusterSecret(new byte[32], 3, "n1"));

    [Fact]
    public void Passwords_are_salted_pbkdf2_hashes_checked_in_constant_time()
    {
        var (salt, hash) = PasswordHash.Create("correct horse", PasswordHash.DefaultIterations);
        Assert.Equal(16, salt.Length);
        Assert.Equal(32, hash.Length);
        Assert.True(PasswordHash.Verify("correct horse", salt, hash, PasswordHash.DefaultIterations));
        Assert.False(PasswordHash.Verify("correct horsE", salt, hash, PasswordHash.DefaultIterations));
        var (salt2, hash2) = PasswordHash.Create("correct horse", 1000);
        Assert.NotEqual(salt, salt2); // a new salt every time: the same password hashes differently
        Assert.NotEqual(hash, hash2);
        Assert.NotNull(PasswordHash.Problem(""));
    }

    [Fact]
    public void The_user_store_merges_to_the_same_state_in_any_order_deletions_win_over_older_copies_and_the_oldest_secret_stays()
    {
        var a = UserDirectory.Empty.With(User("u", "one", 10, "n1")).With(new ClusterSecret([1, 1, 1], 100, "n1"));
        var b = UserDirectory.Empty.With(User("u", "two", 20, "n2")).With(User("v", "x", 5, "n2")).With(new ClusterSecret([2, 2, 2], 50, "n2"));
        var c = UserDirectory.Empty.With(new UserRecord("v", [], [], 0, [], true, 6, "n3"));
        var abc = a.Merge(b).Merge(c);
        var cba = c.Merge(b.Merge(a));
        Assert.True(abc.SameAs(cba));
        Assert.True(abc.SameAs(abc.Merge(abc))); // idempotent
        Assert.Equal("n2", abc.Find("u")!.Origin); // the later change
        Assert.Null(abc.Find("v")); // deleted after it was added
        Assert.Equal([2, 2, 2], abc.Secret!.Key); // the older secret: a node that joins later never replaces it
        // The same version from two nodes: the origin decides, the same way everywhere.
        var x = UserDirectory.Empty.With(User("w", "p", 7, "n1"));
        var y = UserDirectory.Empty.With(User("w", "q", 7, "n9"));
        Assert.Equal("n9", x.Merge(y).Find("w")!.Origin);
        Assert.Equal("n9", y.Merge(x).Find("w")!.Origin);
    }

    [Fact]
    public async Task Tokens_name_their_user_expire_and_stop_working_when_the_password_changes_or_is_forged()
    {
        var time = new ManualTime();
        var access = new KvAccessControl(Fast, time);
        access.Directory = UserDirectory.Empty.With(User("alice", "pw", 1)).With(new ClusterSecret(new byte[32], 1, "n1"));
        var principal = await access.AuthenticateAsync("alice", "pw", null);
        Assert.Equal("alice", principal!.Name);
        var (token, expires) = access.IssueToken(principal)!.Value;
        Assert.Equal(time.Now + Fast.TokenLifetime, expires);
        Assert.Equal("alice", access.VerifyToken(token, out _)!.Name);

        string forged = token[..token.IndexOf('.', StringComparison.Ordinal)] + ".AAAA";
        Assert.Null(access.VerifyToken(forged, out string? why));
        Assert.Contains("invalid", why, StringComparison.Ordinal);
        var other = new KvAccessControl(Fast, time) { Directory = access.Directory.Merge(UserDirectory.Empty) };
        other.Directory = new UserDirectory(access.Directory.Users, new ClusterSecret(Enumerable.Repeat((byte)7, 32).ToArray(), 0, "n0"));
        Assert.Null(other.VerifyToken(token, out _)); // another cluster's secret

        time.Now += Fast.TokenLifetime;
        Assert.Null(access.VerifyToken(token, out why));
        Assert.Contains("expired", why, StringComparison.Ordinal);
        time.Now -= TimeSpan.FromMinutes(1);
        Assert.NotNull(access.VerifyToken(token, out _));
        access.Directory = access.Directory.With(User("alice", "new", 2));
        Assert.Null(access.VerifyToken(token, out why));
        Assert.Contains("password", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Grants_read_only_cannot_write_no_grant_no_data_admin_everything_anonymous_only_from_loopback_when_allowed()
    {
        var access = new KvAccessControl(Fast);
        access.Directory = UserDirectory.Empty
            .With(User("reader", "p", 1, "n1", new Grant(Permission.Read, "default")))
            .With(User("writer", "p", 1, "n1", new Grant(Permission.Write, Grant.All)))
            .With(User("nobody", "p", 1))
            .With(User("root", "p", 1, "n1", new Grant(Permission.Admin, Grant.All)));
        Principal reader = new("reader"), writer = new("writer"), nobody = new("nobody"), root = new("root");
        Assert.True(access.IsAllowed(reader, Permission.Read, "default"));
        Assert.False(access.IsAllowed(reader, Permission.Write, "default"));
        Assert.False(access.IsAllowed(reader, Permission.Read, "other"));
        Assert.True(access.IsAllowed(writer, Permission.Write, "anything"));
        Assert.False(access.IsAllowed(writer, Permission.Read, "anything")); // write does not imply read
        Assert.False(access.IsAllowed(writer, Permission.Admin, null));
        // Cluster-wide read or write (ns null: /metrics) is a grant on every namespace (*), or admin.
        Assert.True(access.IsAllowed(writer, Permission.Write, null));
        Assert.False(access.IsAllowed(writer, Permission.Read, null));
        Assert.False(access.IsAllowed(reader, Permission.Read, null));
        Assert.True(access.IsAllowed(root, Permission.Read, null));
        Assert.False(access.IsAllowed(nobody, Permission.Read, "default"));
        Assert.True(access.IsAllowed(root, Permission.Admin, null));
        Assert.True(access.IsAllowed(root, Permission.Write, "default"));
        Assert.False(access.IsAllowed(new Principal("ghost"), Permission.Read, "default"));
        Assert.False(access.IsAllowed(Principal.Anonymous, Permission.Read, "default"));
        Assert.Null(access.AnonymousFor(new IPEndPoint(IPAddress.Loopback, 5000)));

        var dev = new KvAccessControl(Fast with { AnonymousLoopback = true });
        Assert.Equal(Principal.Anonymous, dev.AnonymousFor(new IPEndPoint(IPAddress.Loopback, 5000)));
        Assert.Equal(Principal.Anonymous, dev.AnonymousFor(new IPEndPoint(IPAddress.IPv6Loopback, 5000)));
        Assert.Null(dev.AnonymousFor(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 5000)));
        Assert.False(new KvAccessControl(Fast with { AnonymousLoopback = true, RemoteIsLoopback = false }).AnonymousAkka);
        var open = new KvAccessControl(new SecurityOptions());
        Assert.Equal(Principal.Anonymous, open.AnonymousFor(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 5000)));
        Assert.True(open.IsAllowed(Principal.Anonymous, Permission.Admin, null));

        Assert.Equal(Requirement.Admin, Requirement.Of(new Admin.DownNode("x")));
        Assert.Equal(Permission.Write, Requirement.Of(new KvPut([1], [1], Objects.Sibling.Tombstone(0), Objects.VersionVector.Empty, RequestOptions.None)).Permission);
        Assert.Equal(RequirementKind.Open, Requirement.Of(Ring.GetRing.Instance).Kind);
        Assert.Equal(Requirement.Admin, Requirement.Of("an unknown message")); // closed by default
    }

    [Fact]
    public async Task Failed_logins_lock_the_user_and_the_address_out_with_a_doubling_lockout_and_a_success_resets()
    {
        var time = new ManualTime();
        var access = new KvAccessControl(Fast, time) { Directory = UserDirectory.Empty.With(User("bob", "right", 1)).With(User("eve", "evil", 1)) };
        var from = new IPEndPoint(IPAddress.Parse("10.0.0.9"), 1234);
        for (int i = 0; i < 3; i++)
            Assert.Null(await access.AuthenticateAsync("bob", "wrong" + i, from));
        // Locked: the right password is refused too, from any address (per user) ...
        Assert.Null(await access.AuthenticateAsync("bob", "right", new IPEndPoint(IPAddress.Parse("10.0.0.10"), 1)));
        // ... and another user from the same address (per address).
        Assert.Null(await access.AuthenticateAsync("eve", "evil", from));
        Assert.NotNull(await access.AuthenticateAsync("eve", "evil", new IPEndPoint(IPAddress.Parse("10.0.0.11"), 1)));
        time.Now += TimeSpan.FromSeconds(11);
        Assert.NotNull(await access.AuthenticateAsync("bob", "right", new IPEndPoint(IPAddress.Parse("10.0.0.12"), 1)));

        // Past the limit each failure doubles the lockout: 10 s, then 20 s.
        var attacker = new IPEndPoint(IPAddress.Parse("10.0.0.66"), 1);
        for (int i = 0; i < 3; i++)
            Assert.Null(await access.AuthenticateAsync("bob", "x", attacker));
        time.Now += TimeSpan.FromSeconds(11);
        Assert.Null(await access.AuthenticateAsync("bob", "y", attacker)); // the 4th: 20 s
        time.Now += TimeSpan.FromSeconds(11);
        Assert.Null(await access.AuthenticateAsync("bob", "right", new IPEndPoint(IPAddress.Parse("10.0.0.13"), 1)));
        time.Now += TimeSpan.FromSeconds(10);
        Assert.NotNull(await access.AuthenticateAsync("bob", "right", new IPEndPoint(IPAddress.Parse("10.0.0.13"), 1)));
    }

    [Fact]
    public async Task A_node_with_authentication_refuses_anonymous_clients_wrong_passwords_and_requests_the_grants_do_not_allow()
    {
        string dir = Directory.CreateTempSubdirectory("kv-security-").FullName;
        int port = KvNodeSpec.FreePort();
        var system = ActorSystem.Create("kv", KvTestConfig.Node(port));
        InitializeLogger(system, "[node] ");
        try
        {
            var cluster = ClusterExt.Get(system);
            cluster.Join(cluster.SelfAddress);
            var node = KvNode.Start(system, KvNodeSpec.TestOptions(dir) with { Security = Fast with { InitialAdminPassword = "admin-pw" } });
            await KvNodeSpec.AwaitConditionAsync(async () => await node.IsServingAsync(), TimeSpan.FromSeconds(15), "the node serving");
            var options = new KvClientOptions { ContactPoints = [$"127.0.0.1:{port}"], ConnectTimeout = TimeSpan.FromSeconds(10), AttemptTimeout = TimeSpan.FromSeconds(3), RequestTimeout = TimeSpan.FromSeconds(5) };

            // The bootstrap admin manages users.
            await using var admin = await KvClient.ConnectAsync(options with { User = "admin", Password = "admin-pw" });
            Assert.True((await admin.AddUserAsync("reader", "r-pw")).Ok);
            Assert.True((await admin.GrantAsync("reader", Permission.Read, "default")).Ok);
            Assert.True((await admin.AddUserAsync("nobody", "n-pw")).Ok);
            Assert.False((await admin.AddUserAsync("reader", "again")).Ok); // exists
            Assert.False((await admin.AddUserAsync("bad name!", "x")).Ok);
            await admin.PutAsync("default", "k", "v");
            Assert.Equal(["admin", "nobody", "reader"], (await admin.ListUsersAsync()).Select(u => u.Name));
            Assert.True(File.Exists(Path.Combine(dir, UserStore.FileName)));

            // Wrong password, unknown user: refused at login.
            await Assert.ThrowsAsync<KvAuthenticationException>(() => KvClient.ConnectAsync(options with { User = "reader", Password = "nope" }));
            await Assert.ThrowsAsync<KvAuthenticationException>(() => KvClient.ConnectAsync(options with { User = "ghost", Password = "nope" }));

            // No login: only the ring (routing) is open.
            await using (var anonymous = await KvClient.ConnectAsync(options))
            {
                await Assert.ThrowsAsync<KvAuthenticationException>(() => anonymous.GetAsync("default", "k"));
                await Assert.ThrowsAsync<KvAuthenticationException>(() => anonymous.GetClusterStatusAsync());
            }

            // Read-only: reads, cannot write, cannot administer.
            await using (var reader = await KvClient.ConnectAsync(options with { User = "reader", Password = "r-pw" }))
            {
                Assert.Equal("v", (await reader.GetAsync("default", "k")).Value.AsString());
                await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.PutAsync("default", "k", "w"));
                await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.DeleteAsync("default", "k"));
                await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.DownAsync($"127.0.0.1:{port}"));
                await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.AddUserAsync("x", "y"));
                await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.SetPasswordAsync("nobody", "z"));
                Assert.True((await reader.SetPasswordAsync("reader", "r-pw2")).Ok); // one's own password
                await Assert.ThrowsAsync<KvAuthenticationException>(() => reader.GetAsync("default", "k")); // its token named the old one
            }

            // No grant, no data.
            await using (var nobody = await KvClient.ConnectAsync(options with { User = "nobody", Password = "n-pw" }))
            {
                var denied = await Assert.ThrowsAsync<KvAccessDeniedException>(() => nobody.GetAsync("default", "k"));
                Assert.Contains("read on namespace 'default'", denied.Message, StringComparison.Ordinal);
                await Assert.ThrowsAsync<KvAccessDeniedException>(() => nobody.ScanAsync("default", Scans.ScanRange.All));
            }
            Assert.Equal("v", (await admin.GetAsync("default", "k")).Value.AsString());

            // A forged envelope sent straight to the router is refused; the node keeps serving.
            var forged = await node.Router.Ask<object>(new Authorized("eyJ.forged", new KvGet("default"u8.ToArray(), "k"u8.ToArray(), RequestOptions.None)), TimeSpan.FromSeconds(5));
            Assert.Equal(FailureCode.NotAuthenticated, Assert.IsType<RequestFailed>(forged).Code);
            Assert.True((await admin.DeleteUserAsync("nobody")).Ok);
            await Assert.ThrowsAsync<KvAuthenticationException>(() => KvClient.ConnectAsync(options with { User = "nobody", Password = "n-pw" }));
        }
        finally
        {
            await system.Terminate();
        }
    }
}
