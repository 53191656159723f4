namespace Kv.Cluster.Remote;

/// <summary>Remoting settings (HOCON: kv.remote.*).</summary>
public sealed record RemoteOptions
{
    /// <summary>Interface to listen on.</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>Port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Host name other systems use to reach this one (default: <see cref="Hostname"/>).</summary>
    public string? PublicHostname { get; init; }

    /// <summary>Shared secret: both sides prove they know it (HMAC-SHA256 over fresh nonces) before any message flows.</summary>
    public string Secret { get; init; } = "";

    /// <summary>Largest frame sent or accepted; a larger message is refused at the sender with an error.</summary>
    public int MaximumFrameSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Messages queued per remote system while its connection is slow or down; beyond it they go to dead letters.</summary>
    public int SendQueueCapacity { get; init; } = 100_000;

    /// <summary>Time allowed for connect + handshake.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First reconnect delay; doubles up to <see cref="ReconnectMaxBackoff"/>.</summary>
    public TimeSpan ReconnectMinBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Largest reconnect delay.</summary>
    public TimeSpan ReconnectMaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Heartbeats on each outbound connection (answered by the peer).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Remote death watch: a system with watched actors that has not answered for this long is
    /// declared failed, quarantined, and its watchers get Terminated.
    /// </summary>
    public TimeSpan WatchFailureTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes gathered before a flush while messages keep coming (an idle link flushes at once).</summary>
    public int WriteBatchBytes { get; init; } = 64 * 1024;

    /// <summary>TLS, when set.</summary>
    public TlsOptions? Tls { get; init; }

    internal void Validate()
    {
        if (Port is < 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "remote.port must be 0..65535");
        if (MaximumFrameSize < 32 * 1024)
            throw new ArgumentOutOfRangeException(nameof(MaximumFrameSize), MaximumFrameSize, "remote.maximum-frame-size must be at least 32 KiB");
        if (SendQueueCapacity <= 0)
            throw new ArgumentOutOfRangeException(nameof(SendQueueCapacity), SendQueueCapacity, "remote.send-queue-capacity must be positive");
        if (HeartbeatInterval <= TimeSpan.Zero || WatchFailureTimeout <= HeartbeatInterval)
            throw new ArgumentOutOfRangeException(nameof(WatchFailureTimeout), WatchFailureTimeout, "remote.watch-failure-timeout must exceed remote.heartbeat-interval");
        if (Tls is not null && string.IsNullOrEmpty(Tls.CertificatePath))
            throw new ArgumentException("remote.tls.certificate-path is required when TLS is on", nameof(Tls));
    }
}

/// <summary>TLS for remoting: every system presents the certificate; a peer is accepted when its certificate is the same one or chains to a trusted root.</summary>
public sealed record TlsOptions
{
    /// <summary>A PKCS#12 file holding certificate and private key.</summary>
    public string CertificatePath { get; init; } = "";

    /// <summary>Its password.</summary>
    public string? CertificatePassword { get; init; }

    /// <summary>Also accept peers whose certificate chains to a trusted root (not only the shared certificate).</summary>
    public bool AcceptTrustedChains { get; init; }
}
