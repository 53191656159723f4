namespace Kv.Actors.Security;

/// <summary>Users, passwords and grants (kv.security): whether requests are checked, anonymous access, bootstrap, tokens, failed-login limits.</summary>
public sealed record SecurityOptions
{
    /// <summary>On: clients, the HTTP and RESP front ends authenticate, and every request is checked against the user's grants. Off: everything is allowed (a loopback-only node).</summary>
    public bool Authentication { get; init; }

    /// <summary>With authentication on: connections that did not authenticate may still do everything when they come from loopback (the dev profile). Off: refused.</summary>
    public bool AnonymousLoopback { get; init; } = true;

    /// <summary>
    /// Whether this node's Akka.Remote port listens on loopback only. An Akka client's address is
    /// declared by the client, so anonymous Akka clients are accepted only when nothing but this
    /// machine can reach the port.
    /// </summary>
    public bool RemoteIsLoopback { get; init; } = true;

    /// <summary>The password of user `admin`, created when the user store has no users at all (null: none is created).</summary>
    public string? InitialAdminPassword { get; init; }

    /// <summary>How long a client's login token is valid (the client logs in again before it expires).</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>PBKDF2-SHA256 iterations for new password hashes (at least 100,000 outside tests).</summary>
    public int HashIterations { get; init; } = PasswordHash.DefaultIterations;

    /// <summary>Failed logins (per user, and per remote address) allowed before logins are refused for <see cref="LockoutBase"/>, doubling with every further failure.</summary>
    public int MaxFailures { get; init; } = 5;

    /// <summary>The first lockout; each failure after it doubles it, up to <see cref="LockoutMax"/>.</summary>
    public TimeSpan LockoutBase { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest lockout.</summary>
    public TimeSpan LockoutMax { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How often the user store is pushed to every member (besides every change).</summary>
    public TimeSpan GossipInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws <see cref="ArgumentException"/> on a value out of range.</summary>
    public SecurityOptions Validate()
    {
        if (TokenLifetime < TimeSpan.FromSeconds(10) || TokenLifetime > TimeSpan.FromDays(30))
            throw new ArgumentException("kv.security.token-lifetime must be 10s..30d");
        if (HashIterations < 1000)
            throw new ArgumentException("kv.security.hash-iterations must be at least 1000");
        if (MaxFailures < 1)
            throw new ArgumentException("kv.security.max-failures must be at least 1");
        if (InitialAdminPassword is { Length: 0 })
            throw new ArgumentException("kv.security.initial-admin-password must not be empty when set");
        return this;
    }
}
