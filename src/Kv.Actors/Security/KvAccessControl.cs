using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Kv.Actors.Coordinators;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Security;

/// <summary>
/// The node's access control over the replicated user store (<see cref="UserStore"/> keeps
/// <see cref="Directory"/> current): password checks (PBKDF2, with a cache so a hash is computed
/// again only when the password or the user changed), failed-login limits per user and per remote
/// address, login tokens, grants, and the check every request to the router, admin and user actors
/// passes (<see cref="Check"/>). Thread-safe: the front ends call it from Kestrel's threads.
/// </summary>
public sealed class KvAccessControl : IAccessControl
{
    /// <summary>Requests from this node's own actors and from the other cluster members: trusted.</summary>
    public static readonly Principal Member = new("(member)");

    private readonly ConcurrentDictionary<string, (string Stamp, byte[] Digest)> _verified = new(StringComparer.Ordinal);
    private readonly FailedLogins _failures;
    private volatile UserDirectory _directory = UserDirectory.Empty;
    private ActorSystem? _system;
    private ILoggingAdapter? _log;

    public KvAccessControl(SecurityOptions options, TimeProvider? time = null)
    {
        Options = options.Validate();
        Time = time ?? TimeProvider.System;
        _failures = new FailedLogins(options, Time);
    }

    public SecurityOptions Options { get; }

    public TimeProvider Time { get; }

    /// <summary>The user store as this node has it (replaced whole by the user store actor).</summary>
    public UserDirectory Directory
    {
        get => _directory;
        set => _directory = value;
    }

    /// <summary>Connects to the node's actor system (cluster membership, the log). Called by <see cref="KvNode"/>.</summary>
    public void Bind(ActorSystem system)
    {
        _system = system;
        _log = Logging.GetLogger(system, "kv-security");
    }

    /// <summary>Whether anonymous requests over Akka.Remote are accepted: authentication off, or anonymous loopback access on a loopback-only node.</summary>
    public bool AnonymousAkka => !Options.Authentication || (Options.AnonymousLoopback && Options.RemoteIsLoopback);

    public Principal? AnonymousFor(EndPoint? remote)
    {
        if (!Options.Authentication)
            return Principal.Anonymous;
        return Options.AnonymousLoopback && IsLoopback(remote) ? Principal.Anonymous : null;
    }

    public static bool IsLoopback(EndPoint? remote) => remote switch
    {
        IPEndPoint ip => IPAddress.IsLoopback(ip.Address),
        DnsEndPoint dns => IsLoopbackHost(dns.Host),
        _ => false,
    };

    /// <summary>localhost, 127.x.x.x, ::1.</summary>
    public static bool IsLoopbackHost(string? host) =>
        host is not null && (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip)));

    public bool IsAllowed(Principal principal, Permission permission, string? ns)
    {
        ArgumentNullException.ThrowIfNull(principal);
        if (!Options.Authentication || ReferenceEquals(principal, Member) || principal == Member)
            return true;
        if (principal.IsAnonymous)
            return Options.AnonymousLoopback;
        var user = Directory.Find(principal.Name);
        if (user is null)
            return false;
        foreach (var g in user.Grants)
        {
            if (g.Permission == Permission.Admin)
                return true; // admin may do everything
            // A cluster-wide read or write (ns null: /metrics, the dashboard's data) needs that grant on every namespace (*).
            if (g.Permission == permission && permission != Permission.Admin && (g.Namespace == Grant.All || (ns is not null && g.Namespace == ns)))
                return true;
        }
        return false;
    }

    public async Task<Principal?> AuthenticateAsync(string user, string password, EndPoint? remote)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(password);
        string? address = AddressOf(remote);
        if (_failures.LockedFor(user, address) is { } wait)
        {
            _log?.Warning("login refused for user '{0}' from {1}: too many failed logins, locked for {2:0}s more", Printable(user), address ?? "(unknown)", wait.TotalSeconds);
            return null;
        }
        var record = Directory.Find(user);
        if (record is null)
        {
            // The same work as a real check, so a missing user does not answer faster.
            PasswordHash.Derive(password, new byte[PasswordHash.SaltBytes], Options.HashIterations);
            Failed(user, address, "no such user");
            return null;
        }
        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(password).Concat(record.Salt).ToArray());
        bool ok = _verified.TryGetValue(user, out var cached) && cached.Stamp == record.Stamp && CryptographicOperations.FixedTimeEquals(cached.Digest, digest);
        if (!ok)
        {
            ok = await Task.Run(() => PasswordHash.Verify(password, record.Salt, record.Hash, record.Iterations)).ConfigureAwait(false);
            if (ok)
                _verified[user] = (record.Stamp, digest);
        }
        if (!ok)
        {
            Failed(user, address, "wrong password");
            return null;
        }
        _failures.Succeeded(user, address);
        return new Principal(user);
    }

    private void Failed(string user, string? address, string why)
    {
        int count = _failures.Failed(user, address);
        _log?.Warning("login failed for user '{0}' from {1}: {2} ({3} failures in a row)", Printable(user), address ?? "(unknown)", why, count);
    }

    private static string Printable(string s) => s.Length > 64 || s.Any(char.IsControl) ? Convert.ToHexString(Encoding.UTF8.GetBytes(s[..Math.Min(s.Length, 64)])) : s;

    private static string? AddressOf(EndPoint? remote) => remote switch
    {
        IPEndPoint ip => ip.Address.ToString(),
        DnsEndPoint dns => dns.Host,
        null => null,
        _ => remote.ToString(),
    };

    /// <summary>A token for <paramref name="principal"/> (a user just authenticated), or null when the cluster has no secret yet.</summary>
    public (string Token, DateTimeOffset Expires)? IssueToken(Principal principal)
    {
        var secret = Directory.Secret;
        var user = Directory.Find(principal.Name);
        if (secret is null || user is null)
            return null;
        var expires = Time.GetUtcNow() + Options.TokenLifetime;
        return (LoginToken.Issue(secret.Key, user.Name, user.Stamp, expires), expires);
    }

    /// <summary>The user of a valid token, or null and why not.</summary>
    public Principal? VerifyToken(string token, out string? why)
    {
        why = null;
        var dir = Directory;
        if (dir.Secret is null || !LoginToken.TryRead(dir.Secret.Key, token, out string name, out string stamp, out var expires))
        {
            why = "invalid login token: log in again";
            return null;
        }
        if (expires <= Time.GetUtcNow())
        {
            why = "the login token has expired: log in again";
            return null;
        }
        var user = dir.Find(name);
        if (user is null || user.Stamp != stamp)
        {
            why = user is null ? $"user '{name}' no longer exists" : $"the password of user '{name}' has changed: log in again";
            return null;
        }
        return new Principal(name);
    }

    /// <summary>Whether <paramref name="sender"/> is this node's own actor or a cluster member's.</summary>
    public bool IsMember(IActorRef sender)
    {
        var address = sender.Path.Address;
        if (address.HasLocalScope || _system is null)
            return true;
        var cluster = ClusterExt.Get(_system);
        if (address.Equals(cluster.SelfAddress))
            return true;
        foreach (var m in cluster.State.Members)
        {
            if (m.Address.Equals(address))
                return true;
        }
        return false;
    }

    /// <summary>
    /// The check before an actor handles a request: the message to handle (the one inside an
    /// <see cref="Authorized"/> envelope) and who sends it, or the refusal to answer with
    /// (<see cref="FailureCode.NotAuthenticated"/>, <see cref="FailureCode.AccessDenied"/>).
    /// </summary>
    public RequestFailed? Check(object message, IActorRef sender, out object inner, out Principal principal)
    {
        (inner, principal) = (message, Principal.Anonymous);
        if (message is Authorized auth)
        {
            inner = auth.Message;
            if (inner is Authorized)
                return new RequestFailed("nested authorized envelopes", FailureCode.InvalidRequest);
            var need = Requirement.Of(inner);
            if (need.Kind == RequirementKind.Open)
                return null;
            if (!Options.Authentication)
            {
                principal = Member;
                return need.Kind == RequirementKind.Internal ? new RequestFailed($"{inner.GetType().Name} is not a client request", FailureCode.AccessDenied) : null;
            }
            if (VerifyToken(auth.Token, out string? why) is not { } user)
                return new RequestFailed(why!, FailureCode.NotAuthenticated);
            principal = user;
            return Allowed(user, need, inner);
        }
        if (!Options.Authentication || IsMember(sender))
        {
            principal = Member;
            return null;
        }
        var requirement = Requirement.Of(message);
        if (requirement.Kind == RequirementKind.Open)
            return null;
        if (AnonymousAkka && requirement.Kind != RequirementKind.Internal)
            return null;
        return new RequestFailed("authentication required: this cluster accepts only logged-in clients (kv --user NAME --password P, or KV_USER/KV_PASSWORD; KvClientOptions.User/Password)", FailureCode.NotAuthenticated);
    }

    private RequestFailed? Allowed(Principal user, Requirement need, object message) => need.Kind switch
    {
        RequirementKind.Authenticated => null,
        RequirementKind.Internal => new RequestFailed($"{message.GetType().Name} is not a client request", FailureCode.AccessDenied),
        _ when IsAllowed(user, need.Permission, need.Namespace) => null,
        _ => new RequestFailed($"user '{user.Name}' is not allowed {need}", FailureCode.AccessDenied),
    };

    /// <summary>Failures per user and per remote address; a lockout that doubles with every failure past the limit.</summary>
    private sealed class FailedLogins(SecurityOptions options, TimeProvider time)
    {
        private const int MaxEntries = 10_000;
        private readonly Dictionary<string, (int Count, DateTimeOffset Last, DateTimeOffset Until)> _entries = new(StringComparer.Ordinal);

        public TimeSpan? LockedFor(string user, string? address)
        {
            var now = time.GetUtcNow();
            lock (_entries)
            {
                var wait = TimeSpan.Zero;
                foreach (string key in Keys(user, address))
                {
                    if (_entries.TryGetValue(key, out var e) && e.Until > now && e.Until - now > wait)
                        wait = e.Until - now;
                }
                return wait > TimeSpan.Zero ? wait : null;
            }
        }

        public int Failed(string user, string? address)
        {
            var now = time.GetUtcNow();
            int most = 0;
            lock (_entries)
            {
                if (_entries.Count > MaxEntries)
                {
                    foreach (string stale in _entries.Where(e => now - e.Value.Last > options.LockoutMax && e.Value.Until < now).Select(e => e.Key).ToList())
                        _entries.Remove(stale);
                }
                foreach (string key in Keys(user, address))
                {
                    var e = _entries.TryGetValue(key, out var old) && now - old.Last <= options.LockoutMax ? old : default;
                    int count = e.Count + 1;
                    var until = e.Until;
                    if (count >= options.MaxFailures)
                    {
                        double factor = Math.Pow(2, Math.Min(20, count - options.MaxFailures));
                        var lockout = TimeSpan.FromTicks((long)Math.Min(options.LockoutMax.Ticks, options.LockoutBase.Ticks * factor));
                        until = now + lockout;
                    }
                    _entries[key] = (count, now, until);
                    most = Math.Max(most, count);
                }
            }
            return most;
        }

        public void Succeeded(string user, string? address)
        {
            lock (_entries)
            {
                foreach (string key in Keys(user, address))
                    _entries.Remove(key);
            }
        }

        private static IEnumerable<string> Keys(string user, string? address)
        {
            yield return "u:" + user;
            if (address is not null)
                yield return "a:" + address;
        }
    }
}
