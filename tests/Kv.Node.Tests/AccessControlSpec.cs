using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Kv.Actors.Scans;
using Kv.Actors.Security;
using Kv.Client;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>
/// Three node processes with authentication on and anonymous access off (kv.security), their HTTP
/// and RESP front ends on, an admin (the bootstrap user) and three users made through the .NET
/// client: reader (read on default and resp), writer (read and write on both), stranger (no grant),
/// monitor (read on every namespace, `*`).
/// Shared by <see cref="AccessControlSpec"/>.
/// </summary>
public sealed class SecuredCluster : IAsyncLifetime
{
    public const string AdminPassword = "adm1n-Secret-4d1e";
    public const string ReaderPassword = "r3ader-Secret-77ab";
    public const string WriterPassword = "wr1ter-Secret-c0de";
    public const string StrangerPassword = "str4nger-Secret-9f3c";
    public const string MonitorPassword = "m0nitor-Secret-b4d2";

    /// <summary>The namespace of the grants for the client, HTTP and the CLI ("X" of the issue); RESP strings live in "resp".</summary>
    public const string Ns = "default";

    /// <summary>A namespace nobody but admin may touch.</summary>
    public const string Private = "private";

    private readonly string _root = Directory.CreateTempSubdirectory("kv-access-").FullName;
    private readonly List<(int Port, int Http, int Resp)> _ports = Enumerable.Range(0, 3).Select(_ => (Processes.FreePort(), Processes.FreePort(), Processes.FreePort())).ToList();

    public List<Processes.Running> Nodes { get; } = [];

    public int Port(int i) => _ports[i].Port;

    public int HttpPort(int i) => _ports[i].Http;

    public int RespPort(int i) => _ports[i].Resp;

    public string Address(int i) => $"akka.tcp://kv@127.0.0.1:{Port(i).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Contact points for clients and the CLI: nodes 1 and 2 (node 3 is the one the down spec takes down and back).</summary>
    public IReadOnlyList<string> Contacts => [.. _ports.Take(2).Select(p => $"127.0.0.1:{p.Port.ToString(CultureInfo.InvariantCulture)}")];

    public KvClient Admin { get; private set; } = null!;

    public KvClientOptions Options(string? user, string? password) => new()
    {
        ContactPoints = Contacts,
        User = user,
        Password = password,
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
            StartNode(i);
        Admin = await KvClient.ConnectAsync(Options("admin", AdminPassword) with { ContactPoints = [.. _ports.Select(p => $"127.0.0.1:{p.Port.ToString(CultureInfo.InvariantCulture)}")] });
        await WaitReadyAsync();

        // The users, through the .NET client as admin. The grant that comes last is the one
        // checked on every node below (the user store travels whole, so the earlier ones are there too).
        Ok(await Admin.AddUserAsync("reader", ReaderPassword));
        Ok(await Admin.AddUserAsync("writer", WriterPassword));
        Ok(await Admin.AddUserAsync("stranger", StrangerPassword));
        Ok(await Admin.AddUserAsync("monitor", MonitorPassword));
        Ok(await Admin.GrantAsync("monitor", Permission.Read, Grant.All));
        foreach (string ns in new[] { Ns, "resp" })
        {
            Ok(await Admin.GrantAsync("writer", Permission.Read, ns));
            Ok(await Admin.GrantAsync("writer", Permission.Write, ns));
        }
        Ok(await Admin.GrantAsync("reader", Permission.Read, "resp"));
        Ok(await Admin.GrantAsync("reader", Permission.Read, Ns));
        await Admin.PutAsync(Ns, "shared", "hello");
        await Admin.PutAsync(Private, "secret", "for admin only");
        await Admin.PutAsync("resp", "shared", "hello over resp");

        // Every node knows every user and grant (checked through each node's HTTP port).
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 3; i++)
        {
            while (true)
            {
                var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{HttpPort(i).ToString(CultureInfo.InvariantCulture)}/ns/{Ns}/keys/shared");
                request.Headers.Authorization = Basic("reader", ReaderPassword);
                using var response = await http.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.OK)
                    break;
                if (sw.Elapsed > TimeSpan.FromSeconds(30))
                    throw new TimeoutException($"node {i + 1} did not learn user reader's grant in 30 s (HTTP {(int)response.StatusCode})");
                await Task.Delay(200);
            }
        }
    }

    private static void Ok(UserAdminReply reply) => Assert.True(reply.Ok, reply.Message);

    public static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));

    /// <summary>Starts node <paramref name="i"/> (again, on the same data directory, after a down).</summary>
    public void StartNode(int i)
    {
        string seeds = string.Join(", ", _ports.Select(p => $"\"akka.tcp://kv@127.0.0.1:{p.Port.ToString(CultureInfo.InvariantCulture)}\""));
        string dir = Path.Combine(_root, "n" + i.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        string config = Path.Combine(dir, "node.conf");
        File.WriteAllText(config, Processes.LoopbackNodeConfig(dir, Port(i), seeds, $$"""
              namespaces {
                {{Private}} { n-val = 3 }
              }
              security {
                authentication = on
                anonymous = off
                initial-admin-password = "{{AdminPassword}}"
                hash-iterations = 1000
                gossip-interval = 1s
                # The spec sends more wrong passwords from 127.0.0.1 than the default 5 in a row
                # (every front end, on purpose): the lockout is SecuritySpec's, not this spec's.
                max-failed-logins = 1000
              }
            """));
        var process = new Processes.Running(Processes.Dll("Kv.Node.dll"), dir, "--config", config,
            "--kv.http.port=" + HttpPort(i).ToString(CultureInfo.InvariantCulture), "--kv.resp.port=" + RespPort(i).ToString(CultureInfo.InvariantCulture));
        if (i < Nodes.Count)
            Nodes[i] = process;
        else
            Nodes.Add(process);
    }

    /// <summary>Waits until every node is an Up member of a 3-node cluster with a settled ring of 3 owners and serves.</summary>
    public async Task WaitReadyAsync()
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            bool ready = true;
            for (int i = 0; i < 3; i++)
            {
                try
                {
                    var s = await Admin.GetClusterStatusOfAsync(Address(i));
                    ready &= s.Serving && s.Members.Count == 3 && s.Members.All(m => m.Status == "Up" && m.Reachable) && s.Ring is { Settled: true } r && r.Owners.Distinct().Count() == 3;
                }
                catch (Exception e) when (e is KvException or TimeoutException or Akka.Actor.AskTimeoutException)
                {
                    ready = false;
                }
            }
            if (ready)
                return;
            if (sw.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException("the three secured nodes did not form a cluster with a settled ring in 60 s:\n" + string.Join("\n---\n", Nodes.Select(Tail)));
            await Task.Delay(500);
        }
    }

    /// <summary>A node's last lines, without the refusals of the readiness polls (each poll logs one while the admin's token is refused).</summary>
    private static string Tail(Processes.Running node)
    {
        var lines = node.Output.Split('\n');
        int polls = lines.Count(l => l.Contains("refused GetClusterStatus", StringComparison.Ordinal));
        return $"(exited: {node.Process.HasExited}; {polls} refused status polls)\n" + string.Join('\n', lines.Where(l => !l.Contains("refused GetClusterStatus", StringComparison.Ordinal)).TakeLast(25));
    }

    public async Task DisposeAsync()
    {
        if (Admin is not null)
            await Admin.DisposeAsync();
        foreach (var n in Nodes)
            n.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// Issue 31's security promises on real processes with kv.security.authentication = on and
/// anonymous = off, through every front end (the .NET client, RESP, HTTP, the `kv` CLI): a wrong
/// password is refused, a read-only user cannot write, no grant means no data, a non-admin cannot
/// down a node (an admin can), and failed logins are logged without the password.
/// </summary>
[Collection("processes")]
public sealed class AccessControlSpec(SecuredCluster cluster, ITestOutputHelper output) : IClassFixture<SecuredCluster>
{
    private KvClientOptions Options(string? user, string? password) => cluster.Options(user, password);

    /// <summary>No node's log and no CLI output holds any password this spec used (right or wrong).</summary>
    private static readonly string[] Passwords =
    [
        SecuredCluster.AdminPassword, SecuredCluster.ReaderPassword, SecuredCluster.WriterPassword, SecuredCluster.StrangerPassword, SecuredCluster.MonitorPassword,
        "wrong-client-pw-1a2b", "wrong-resp-pw-3c4d", "wrong-hello-pw-5e6f", "wrong-http-pw-7a8b", "wrong-cli-pw-9c0d", "wrong-redis-lib-pw-e1f2",
    ];

    private void NoPasswordIn(string text, string where)
    {
        foreach (string p in Passwords)
            Assert.False(text.Contains(p, StringComparison.Ordinal), $"{where} shows a password ({p})");
    }

    /// <summary>The node logged a failed login for <paramref name="user"/> saying <paramref name="why"/>, and no password anywhere.</summary>
    private async Task FailedLoginLogged(int node, string user, string why)
    {
        await cluster.Nodes[node].WaitForOutput($"login failed for user '{user}' from 127.0.0.1: {why}", TimeSpan.FromSeconds(10));
        NoPasswordIn(cluster.Nodes[node].Output, $"node {node + 1}'s log");
    }

    /// <summary>Some node logged <paramref name="line"/> (within 10 s); no node's log holds a password.</summary>
    private async Task LoggedSomewhere(string line)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!cluster.Nodes.Any(n => n.Output.Contains(line, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no node logged \"{line}\"");
            await Task.Delay(100);
        }
        for (int i = 0; i < cluster.Nodes.Count; i++)
            NoPasswordIn(cluster.Nodes[i].Output, $"node {i + 1}'s log");
    }

    [Fact]
    public async Task The_dotnet_client_wrong_password_read_only_no_grant_and_administration()
    {
        // Wrong password, unknown user: refused at connect with a clear error.
        var wrong = await Assert.ThrowsAsync<KvAuthenticationException>(() => KvClient.ConnectAsync(Options("reader", "wrong-client-pw-1a2b")));
        Assert.Contains("login as 'reader' refused: wrong user name or password", wrong.Message, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<KvAuthenticationException>(() => KvClient.ConnectAsync(Options("nobody-client", SecuredCluster.ReaderPassword)));
        Assert.Contains("refused", unknown.Message, StringComparison.Ordinal);
        NoPasswordIn(wrong.Message + unknown.Message, "the client's errors");

        // No login at all: the ring is open (clients route with it), data and status are not.
        await using (var anonymous = await KvClient.ConnectAsync(Options(null, null)))
        {
            var e = await Assert.ThrowsAsync<KvAuthenticationException>(() => anonymous.GetAsync(SecuredCluster.Ns, "shared"));
            Assert.Contains("authentication required", e.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<KvAuthenticationException>(() => anonymous.PutAsync(SecuredCluster.Ns, "anon", "x"));
            await Assert.ThrowsAsync<KvAuthenticationException>(() => anonymous.GetClusterStatusAsync());
        }

        await using var reader = await KvClient.ConnectAsync(Options("reader", SecuredCluster.ReaderPassword));
        await using var writer = await KvClient.ConnectAsync(Options("writer", SecuredCluster.WriterPassword));
        await using var stranger = await KvClient.ConnectAsync(Options("stranger", SecuredCluster.StrangerPassword));

        // A read-only user reads and cannot write or delete; the value is unchanged.
        Assert.Equal("hello", (await reader.GetAsync(SecuredCluster.Ns, "shared")).Value.AsString());
        var put = await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.PutAsync(SecuredCluster.Ns, "shared", "overwritten"));
        Assert.Contains("user 'reader' is not allowed write on namespace 'default'", put.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.DeleteAsync(SecuredCluster.Ns, "shared"));
        var many = await reader.PutManyAsync(SecuredCluster.Ns, [("shared", "overwritten", null), ("k1", "v", null)]);
        Assert.All(many, o => Assert.IsType<KvAccessDeniedException>(o.Error));
        Assert.Equal("hello", (await writer.GetAsync(SecuredCluster.Ns, "shared")).Value.AsString());
        // ... and not outside its grant.
        await Assert.ThrowsAsync<KvAccessDeniedException>(() => reader.GetAsync(SecuredCluster.Private, "secret"));

        // The writer writes; the reader sees it.
        await writer.PutAsync(SecuredCluster.Ns, "by-writer", "w1");
        Assert.Equal("w1", (await reader.GetAsync(SecuredCluster.Ns, "by-writer")).Value.AsString());

        // No grant, no data: not a value, not whether the key exists, not a page of a scan.
        var get = await Assert.ThrowsAsync<KvAccessDeniedException>(() => stranger.GetAsync(SecuredCluster.Ns, "shared"));
        Assert.DoesNotContain("hello", get.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<KvAccessDeniedException>(() => stranger.ExistsAsync(SecuredCluster.Ns, "shared"));
        var got = Assert.Single(await stranger.GetManyAsync(SecuredCluster.Ns, ["shared"]));
        Assert.IsType<KvAccessDeniedException>(got.Error);
        Assert.Null(got.Result);
        await Assert.ThrowsAsync<KvAccessDeniedException>(() => stranger.ScanAsync(SecuredCluster.Ns, ScanRange.All, 10));
        await Assert.ThrowsAsync<KvAccessDeniedException>(() => stranger.PutAsync(SecuredCluster.Ns, "by-stranger", "x"));

        // Cluster administration needs admin: down, leave, user management, grants (also to oneself).
        foreach (var nonAdmin in new[] { reader, writer, stranger })
        {
            var down = await Assert.ThrowsAsync<KvAccessDeniedException>(() => nonAdmin.DownAsync(cluster.Address(2)));
            Assert.Contains("is not allowed admin", down.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<KvAccessDeniedException>(() => nonAdmin.LeaveAsync(cluster.Address(2)));
            await Assert.ThrowsAsync<KvAccessDeniedException>(() => nonAdmin.AddUserAsync("intruder", "x-pw"));
            await Assert.ThrowsAsync<KvAccessDeniedException>(() => nonAdmin.GrantAsync("stranger", Permission.Read, SecuredCluster.Ns));
            await Assert.ThrowsAsync<KvAccessDeniedException>(() => nonAdmin.DeleteUserAsync("reader"));
            await Assert.ThrowsAsync<KvAccessDeniedException>(() => nonAdmin.ListUsersAsync());
        }
        // A logged-in user may see the cluster's status; nothing above changed it.
        var status = await stranger.GetClusterStatusAsync();
        Assert.Equal(3, status.Members.Count(m => m.Status == "Up"));

        // The admin may do all of it.
        Assert.True((await cluster.Admin.AddUserAsync("temp-user", "temp-user-pw")).Ok);
        Assert.True((await cluster.Admin.GrantAsync("temp-user", Permission.Read, SecuredCluster.Private)).Ok);
        Assert.Contains(await cluster.Admin.ListUsersAsync(), u => u.Name == "temp-user" && u.Grants.Count == 1);
        Assert.True((await cluster.Admin.DeleteUserAsync("temp-user")).Ok);
        Assert.DoesNotContain(await cluster.Admin.ListUsersAsync(), u => u.Name == "intruder");
        Assert.Equal("for admin only", (await cluster.Admin.GetAsync(SecuredCluster.Private, "secret")).Value.AsString());

        // The failed logins (over Akka.Remote, to whichever node the client asked) are logged without the password.
        await LoggedSomewhere("login failed for user 'reader' from 127.0.0.1: wrong password");
        await LoggedSomewhere("login failed for user 'nobody-client' from 127.0.0.1: no such user");
    }

    [Fact]
    public async Task Resp_noauth_wrongpass_read_only_and_no_grant()
    {
        int port = cluster.RespPort(0);

        // No AUTH: every data command is NOAUTH; PING too (Redis answers NOAUTH to it as well).
        await using (var anonymous = await RespConnection.OpenAsync(port))
        {
            Assert.StartsWith("-NOAUTH", await anonymous.SendAsync("GET", "shared"), StringComparison.Ordinal);
            Assert.StartsWith("-NOAUTH", await anonymous.SendAsync("SET", "shared", "x"), StringComparison.Ordinal);
            Assert.StartsWith("-NOAUTH", await anonymous.SendAsync("PING"), StringComparison.Ordinal);
            // A wrong password (also with HELLO 3 AUTH) or an unknown user: WRONGPASS, still not in.
            Assert.StartsWith("-WRONGPASS", await anonymous.SendAsync("AUTH", "reader", "wrong-resp-pw-3c4d"), StringComparison.Ordinal);
            Assert.StartsWith("-WRONGPASS", await anonymous.SendAsync("HELLO", "3", "AUTH", "reader", "wrong-hello-pw-5e6f"), StringComparison.Ordinal);
            Assert.StartsWith("-WRONGPASS", await anonymous.SendAsync("AUTH", "nobody-resp", SecuredCluster.ReaderPassword), StringComparison.Ordinal);
            Assert.StartsWith("-WRONGPASS", await anonymous.SendAsync("AUTH", "wrong-resp-pw-3c4d"), StringComparison.Ordinal); // the default user
            Assert.StartsWith("-NOAUTH", await anonymous.SendAsync("GET", "shared"), StringComparison.Ordinal);
            // The right one lets it in.
            Assert.Equal("+OK", await anonymous.SendAsync("AUTH", "reader", SecuredCluster.ReaderPassword));
            Assert.Equal("$hello over resp", await anonymous.SendAsync("GET", "shared"));
        }
        await FailedLoginLogged(0, "reader", "wrong password");
        await FailedLoginLogged(0, "nobody-resp", "no such user");
        await FailedLoginLogged(0, "default", "no such user");

        // The writer writes; the read-only user reads and is refused every write (Redis's NOPERM).
        await using (var writer = await RespConnection.OpenAsync(port))
        {
            Assert.Equal("+OK", await writer.SendAsync("AUTH", "writer", SecuredCluster.WriterPassword));
            Assert.Equal("+OK", await writer.SendAsync("SET", "r:1", "from writer"));
            Assert.Equal(":1", await writer.SendAsync("INCR", "r:counter"));
        }
        await using (var reader = await RespConnection.OpenAsync(cluster.RespPort(1)))
        {
            Assert.Equal("+OK", await reader.SendAsync("AUTH", "reader", SecuredCluster.ReaderPassword));
            Assert.Equal("$from writer", await reader.SendAsync("GET", "r:1"));
            string set = await reader.SendAsync("SET", "r:1", "from reader");
            Assert.StartsWith("-NOPERM", set, StringComparison.Ordinal);
            Assert.Contains("User reader has no permissions to run the 'set' command", set, StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await reader.SendAsync("INCR", "r:counter"), StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await reader.SendAsync("DEL", "r:1"), StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await reader.SendAsync("MSET", "r:1", "a", "r:2", "b"), StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await reader.SendAsync("EXPIRE", "r:1", "100"), StringComparison.Ordinal);
            Assert.Equal("$from writer", await reader.SendAsync("GET", "r:1"));
            Assert.Equal("$1", await reader.SendAsync("GET", "r:counter"));
            // Not outside its grant: the hash keyspace (resp-hashes) is not granted to it.
            Assert.StartsWith("-NOPERM", await reader.SendAsync("HGET", "h:1", "f"), StringComparison.Ordinal);
            // SELECT switches its strings to another namespace; the grants there still apply.
            Assert.Equal("+OK", await reader.SendAsync("SELECT", SecuredCluster.Private));
            Assert.StartsWith("-NOPERM", await reader.SendAsync("GET", "secret"), StringComparison.Ordinal);
            Assert.Equal("+OK", await reader.SendAsync("SELECT", SecuredCluster.Ns));
            Assert.Equal("$hello", await reader.SendAsync("GET", "shared"));
        }

        // No grant, no data.
        await using (var stranger = await RespConnection.OpenAsync(port))
        {
            Assert.Equal("+OK", await stranger.SendAsync("AUTH", "stranger", SecuredCluster.StrangerPassword));
            Assert.StartsWith("-NOPERM", await stranger.SendAsync("GET", "r:1"), StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await stranger.SendAsync("MGET", "r:1", "shared"), StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await stranger.SendAsync("EXISTS", "r:1"), StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await stranger.SendAsync("TTL", "r:1"), StringComparison.Ordinal);
            Assert.StartsWith("-NOPERM", await stranger.SendAsync("SET", "r:1", "from stranger"), StringComparison.Ordinal);
            // SCAN lists only the keyspaces it may read: none.
            Assert.Equal("*2 $0 *0", await stranger.SendAsync("SCAN", "0", "MATCH", "r:*", "COUNT", "100"));
        }

        // A Redis client library with the same users: StackExchange.Redis sends AUTH user password.
        await using (var lib = await RespCluster.Connect(cluster.RespPort(1), "reader", SecuredCluster.ReaderPassword))
        {
            var db = lib.GetDatabase();
            Assert.Equal("from writer", (string?)await db.StringGetAsync("r:1"));
            var e = await Assert.ThrowsAsync<RedisServerException>(() => db.StringSetAsync("r:1", "lib"));
            Assert.StartsWith("NOPERM", e.Message, StringComparison.Ordinal);
            Assert.Equal("from writer", (string?)await db.StringGetAsync("r:1"));
        }
        NoPasswordIn(cluster.Nodes[0].Output + cluster.Nodes[1].Output, "the nodes' logs");
    }

    [Fact]
    public async Task Http_basic_401_without_or_with_wrong_credentials_403_without_the_grant()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{cluster.HttpPort(1).ToString(CultureInfo.InvariantCulture)}"), Timeout = TimeSpan.FromSeconds(20) };
        async Task<HttpResponseMessage> Send(HttpMethod method, string path, (string User, string Password)? who, string? body = null)
        {
            var request = new HttpRequestMessage(method, path);
            if (who is { } w)
                request.Headers.Authorization = SecuredCluster.Basic(w.User, w.Password);
            if (body is not null)
                request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
            var response = await http.SendAsync(request);
            output.WriteLine($"{method} {path} as {who?.User ?? "(nobody)"} -> {(int)response.StatusCode}");
            return response;
        }
        var reader = ("reader", SecuredCluster.ReaderPassword);
        var writer = ("writer", SecuredCluster.WriterPassword);
        var stranger = ("stranger", SecuredCluster.StrangerPassword);

        // No credentials: 401 with a Basic challenge (anonymous access is off, even from loopback).
        var none = await Send(HttpMethod.Get, "/ns/default/keys/shared", null);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Basic", none.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Put, "/ns/default/keys/shared", null, "anon")).StatusCode);
        // A wrong password or an unknown user: 401, and the body does not echo the password.
        var wrong = await Send(HttpMethod.Get, "/ns/default/keys/shared", ("reader", "wrong-http-pw-7a8b"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("Basic", wrong.Headers.WwwAuthenticate.Single().Scheme);
        NoPasswordIn(await wrong.Content.ReadAsStringAsync(), "the 401 body");
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/ns/default/keys/shared", ("nobody-http", SecuredCluster.ReaderPassword))).StatusCode);
        await FailedLoginLogged(1, "reader", "wrong password");
        await FailedLoginLogged(1, "nobody-http", "no such user");

        // The read-only user: GET 200 / 404, PUT and DELETE 403 (the value unchanged).
        var get = await Send(HttpMethod.Get, "/ns/default/keys/shared", reader);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("hello", await get.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, "/ns/default/keys/never-written", reader)).StatusCode);
        var put = await Send(HttpMethod.Put, "/ns/default/keys/shared", reader, "from reader");
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        Assert.Contains("\"forbidden\"", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Delete, "/ns/default/keys/shared", reader)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/ns/default/batch/put", reader, """{"items":[{"key":"b1","value":"v"}]}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Get, "/ns/private/keys/secret", reader)).StatusCode);
        Assert.Equal("hello", await (await Send(HttpMethod.Get, "/ns/default/keys/shared", writer)).Content.ReadAsStringAsync());

        // The writer may write.
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Put, "/ns/default/keys/http-1", writer, "w")).StatusCode);
        Assert.Equal("w", await (await Send(HttpMethod.Get, "/ns/default/keys/http-1", reader)).Content.ReadAsStringAsync());

        // No grant, no data: 403 for a key that exists and for one that does not alike, scans too.
        var strangerGet = await Send(HttpMethod.Get, "/ns/default/keys/shared", stranger);
        Assert.Equal(HttpStatusCode.Forbidden, strangerGet.StatusCode);
        Assert.DoesNotContain("hello", await strangerGet.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Get, "/ns/default/keys/never-written", stranger)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Head, "/ns/default/keys/shared", stranger)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Get, "/ns/default/keys?prefix=", stranger)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, "/ns/default/keys/shared", stranger, "x")).StatusCode);

        // The operations endpoints need cluster-wide read (a grant of read on *): no one 401, a user
        // with read on one namespace or none 403; read on * and admin 200.
        foreach (string path in new[] { "/metrics", "/api/dashboard" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, path, null)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Get, path, reader)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Get, path, stranger)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, path, ("monitor", SecuredCluster.MonitorPassword))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, path, ("admin", SecuredCluster.AdminPassword))).StatusCode);
        }
        // Health and the API description stay open (a load balancer asks them).
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/health/live", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/openapi/v1.json", null)).StatusCode);
        Assert.Equal("hello", (await cluster.Admin.GetAsync(SecuredCluster.Ns, "shared")).Value.AsString());
    }

    [Fact]
    public async Task The_kv_cli_exits_10_for_a_wrong_password_11_without_the_grant_and_never_shows_a_password()
    {
        string nodes = string.Join(',', cluster.Contacts);
        string[] As(string user, string password) => ["--user", user, "--password", password, "--nodes", nodes];
        var runs = await Task.WhenAll(
            Kv(["put", "default", "shared", "from reader", .. As("reader", SecuredCluster.ReaderPassword)]),
            Kv(["get", "default", "shared", .. As("reader", SecuredCluster.ReaderPassword)]),
            Kv(["get", "default", "shared", .. As("stranger", SecuredCluster.StrangerPassword)]),
            Kv(["cluster", "down", cluster.Address(2), .. As("writer", SecuredCluster.WriterPassword)]),
            Kv(["user", "add", "intruder", "--new-password", "intruder-pw", .. As("writer", SecuredCluster.WriterPassword)]),
            Kv(["get", "default", "shared", .. As("reader", "wrong-cli-pw-9c0d")]),
            Kv(["get", "default", "shared", "--nodes", nodes]));
        var (put, get, strangerGet, down, userAdd, wrong, anonymous) = (runs[0], runs[1], runs[2], runs[3], runs[4], runs[5], runs[6]);

        Assert.Equal(11, put.Code);
        Assert.Contains("not allowed: user 'reader' is not allowed write on namespace 'default'", put.Output, StringComparison.Ordinal);
        Assert.Equal(0, get.Code);
        Assert.Contains("hello", get.Output, StringComparison.Ordinal);
        Assert.Equal(11, strangerGet.Code);
        Assert.DoesNotContain("hello", strangerGet.Output, StringComparison.Ordinal);
        Assert.Equal(11, down.Code);
        Assert.Contains("not allowed: user 'writer' is not allowed admin", down.Output, StringComparison.Ordinal);
        Assert.Equal(11, userAdd.Code);
        Assert.Equal(10, wrong.Code);
        Assert.Contains("not authenticated: login as 'reader' refused", wrong.Output, StringComparison.Ordinal);
        Assert.Equal(10, anonymous.Code);
        Assert.Contains("authentication required", anonymous.Output, StringComparison.Ordinal);
        foreach (var r in runs)
            NoPasswordIn(r.Output, "the CLI's output");

        // Nothing was changed: the value, the members, the users.
        Assert.Equal("hello", (await cluster.Admin.GetAsync(SecuredCluster.Ns, "shared")).Value.AsString());
        Assert.Equal(3, (await cluster.Admin.GetClusterStatusAsync()).Members.Count(m => m.Status == "Up"));
        Assert.DoesNotContain(await cluster.Admin.ListUsersAsync(), u => u.Name == "intruder");
        // The wrong password was logged as a failed login, without it.
        await LoggedSomewhere("login failed for user 'reader' from 127.0.0.1: wrong password");
    }

    [Fact]
    public async Task A_non_admin_cannot_down_a_node_and_an_admin_can()
    {
        string victim = cluster.Address(2);
        await using var writer = await KvClient.ConnectAsync(Options("writer", SecuredCluster.WriterPassword));
        await Assert.ThrowsAsync<KvAccessDeniedException>(() => writer.DownAsync(victim));
        var cli = await Kv(["cluster", "down", victim, "--user", "reader", "--password", SecuredCluster.ReaderPassword, "--nodes", string.Join(',', cluster.Contacts)]);
        Assert.Equal(11, cli.Code);
        await LoggedSomewhere("refused DownNode from akka.tcp://kv-client@127.0.0.1:");
        var before = await cluster.Admin.GetClusterStatusAsync();
        Assert.Contains(before.Members, m => m.Address == victim && m.Status == "Up");
        Assert.False(cluster.Nodes[2].Process.HasExited);

        // The admin downs it: it leaves the membership and its process stops.
        var reply = await cluster.Admin.DownAsync(victim);
        Assert.True(reply.Ok, reply.Message);
        var sw = Stopwatch.StartNew();
        while ((await cluster.Admin.GetClusterStatusOfAsync(cluster.Address(0))).Members.Any(m => m.Address == victim))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "the downed node is still a member after 30 s");
            await Task.Delay(200);
        }
        await LoggedSomewhere($"DownNode {{ Node = {victim} }} requested by admin");
        int code = await cluster.Nodes[2].WaitForExit(TimeSpan.FromSeconds(30));
        output.WriteLine($"downed node exited with {code} after {sw.Elapsed.TotalSeconds:0.0} s");

        // Back for the other specs of the class: the same data directory, a new incarnation.
        cluster.Nodes[2].Dispose();
        cluster.StartNode(2);
        await cluster.WaitReadyAsync();
        output.WriteLine($"node 3 back after {sw.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>Runs the `kv` CLI as its own process: exit code, stdout and stderr.</summary>
    private async Task<(int Code, string Output)> Kv(string[] args)
    {
        using var p = new Processes.Running(Processes.Dll("kv.dll"), AppContext.BaseDirectory, args);
        int code = await p.WaitForExit(TimeSpan.FromSeconds(60));
        string text = p.Output;
        output.WriteLine($"kv {string.Join(' ', args.Where((_, i) => i == 0 || args[i - 1] != "--password"))} -> {code}\n{text}");
        return (code, text);
    }

    /// <summary>A RESP connection over a plain socket (commands as arrays of bulk strings), replies in a compact text form.</summary>
    private sealed class RespConnection : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start, _end;

        private RespConnection(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
        }

        public static async Task<RespConnection> OpenAsync(int port)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            return new RespConnection(tcp);
        }

        /// <summary>Sends a command; the reply as "+OK", "-ERR ...", ":1", "$value", "$(nil)" or "*N item item ...".</summary>
        public async Task<string> SendAsync(params string[] args)
        {
            var sb = new StringBuilder();
            sb.Append('*').Append(args.Length).Append("\r\n");
            foreach (string a in args)
                sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            return await ReadReplyAsync(cts.Token);
        }

        private async Task<string> ReadReplyAsync(CancellationToken ct)
        {
            string line = await ReadLineAsync(ct);
            switch (line[0])
            {
                case '$':
                    int n = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                    if (n < 0)
                        return "$(nil)";
                    while (_end - _start < n + 2)
                        await FillAsync(ct);
                    string value = Encoding.UTF8.GetString(_buffer, _start, n);
                    _start += n + 2;
                    return "$" + value;
                case '*':
                    int count = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                    var items = new List<string> { "*" + count.ToString(CultureInfo.InvariantCulture) };
                    for (int i = 0; i < count; i++)
                        items.Add(await ReadReplyAsync(ct));
                    return string.Join(' ', items);
                default:
                    return line;
            }
        }

        private async Task<string> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                int nl = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (nl > _start)
                {
                    string line = Encoding.UTF8.GetString(_buffer, _start, nl - 1 - _start);
                    _start = nl + 1;
                    return line;
                }
                await FillAsync(ct);
            }
        }

        private async Task FillAsync(CancellationToken ct)
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                (_end, _start) = (_end - _start, 0);
            }
            int read = await _stream.ReadAsync(_buffer.AsMemory(_end), ct);
            if (read == 0)
                throw new IOException("the server closed the connection");
            _end += read;
        }

        public ValueTask DisposeAsync()
        {
            _tcp.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
