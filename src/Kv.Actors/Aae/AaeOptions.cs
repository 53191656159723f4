namespace Kv.Actors.Aae;

/// <summary>Active anti-entropy: the Merkle trees every vnode keeps, and the exchanges between replicas.</summary>
public sealed record AaeOptions
{
    /// <summary>Off: no trees are built and no exchanges run (reads and hints still repair).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>How often the node's sync actor starts an exchange (Riak's exchange tick is 15 s).</summary>
    public TimeSpan ExchangeInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Exchanges this node runs at once (Riak's default: one).</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>Keys one exchange repairs at most; the rest wait for the pair's next exchange.</summary>
    public int MaxKeysPerExchange { get; init; } = 1000;

    /// <summary>A vnode's trees are built again from a storage snapshot this long after the last build (Riak: a week).</summary>
    public TimeSpan TreeRebuildInterval { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Bytes a tree build reads per second at most (builds run one at a time per node; 0: no cap).</summary>
    public long BuildBytesPerSecond { get; init; } = 10L << 20;

    /// <summary>How often each vnode checks every table's block checksums and rewrites damaged ones.</summary>
    public TimeSpan ScrubInterval { get; init; } = TimeSpan.FromHours(24);

    public void Validate()
    {
        if (ExchangeInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ExchangeInterval), ExchangeInterval, "kv.aae.exchange-interval must be > 0");
        if (Concurrency < 1)
            throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "kv.aae.concurrency must be >= 1");
        if (MaxKeysPerExchange < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxKeysPerExchange), MaxKeysPerExchange, "kv.aae.max-keys-per-exchange must be >= 1");
        if (TreeRebuildInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(TreeRebuildInterval), TreeRebuildInterval, "kv.aae.tree-rebuild-interval must be > 0");
        if (BuildBytesPerSecond < 0)
            throw new ArgumentOutOfRangeException(nameof(BuildBytesPerSecond), BuildBytesPerSecond, "kv.aae.build-rate must be >= 0");
        if (ScrubInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ScrubInterval), ScrubInterval, "kv.aae.scrub-interval must be > 0");
    }
}
