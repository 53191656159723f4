namespace Kv.Client;

/// <summary>Client settings.</summary>
public sealed record KvClientOptions
{
    /// <summary>Nodes to start from: host:port (the cluster's system name is <see cref="SystemName"/>) or akka.tcp://system@host:port.</summary>
    public IReadOnlyList<string> ContactPoints { get; init; } = ["127.0.0.1:2551"];

    /// <summary>The cluster's actor system name (kv.system-name).</summary>
    public string SystemName { get; init; } = "kv";

    /// <summary>
    /// The cluster's transport protocol: akka.tcp, or akka.trttl.tcp for a cluster whose nodes run
    /// with kv.chaos.enabled (Akka's throttler adapter; the client then applies it too). A contact
    /// point given as a full address sets it.
    /// </summary>
    public string Protocol { get; init; } = "akka.tcp";

    /// <summary>
    /// The `secure` profile (the cluster runs with kv.remote.secure.enabled): this client's
    /// certificate (PKCS#12, signed by the cluster's CA) and its password, and the CA's certificate.
    /// Null: plain TCP.
    /// </summary>
    public KvClientCertificate? Certificate { get; init; }

    /// <summary>The address the client listens on for replies (port 0: any free port).</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>How long one node gets to answer before the request moves to the next node of the key's preference list.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>The whole request, over all attempts.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How often every known node is asked for its ring (liveness and ring changes).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A node that misses this many refreshes in a row is skipped (and requests waiting on it move on).</summary>
    public int MissedRefreshesBeforeDown { get; init; } = 2;

    /// <summary>How long <see cref="KvClient.ConnectAsync"/> waits for a contact point to answer.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The user to log in as (with <see cref="Password"/>) when the cluster runs with authentication
    /// (kv.security.authentication = on); null: no login (anonymous, where the cluster allows it).
    /// </summary>
    public string? User { get; init; }

    /// <summary><see cref="User"/>'s password. Sent to a node at login only (use the secure profile off loopback); requests carry a token.</summary>
    public string? Password { get; init; }

    /// <summary>Largest value sent (the transport's frame limit is 4 MiB; nodes default to 1 MiB).</summary>
    public int MaxValueBytes { get; init; } = 4 * 1024 * 1024 - 64 * 1024;
}

/// <summary>A client's certificate for the `secure` profile: PKCS#12 file and password, and the cluster CA's certificate.</summary>
public sealed record KvClientCertificate(string Path, string Password, string CaPath);
