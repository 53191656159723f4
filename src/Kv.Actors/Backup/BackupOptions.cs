namespace Kv.Actors.Backup;

/// <summary>Scheduled snapshots of a node (kv.backup.*).</summary>
public sealed record BackupOptions
{
    /// <summary>How often the node writes a snapshot of the partitions it owns (null: never, the default).</summary>
    public TimeSpan? Schedule { get; init; }

    /// <summary>Where the snapshots go, one timestamped directory each (null: &lt;data-directory&gt;/backups).</summary>
    public string? Directory { get; init; }

    /// <summary>How many complete snapshots are kept: after each new one the oldest beyond this are deleted.</summary>
    public int Keep { get; init; } = 3;

    public void Validate()
    {
        if (Schedule is { } s && s < TimeSpan.FromSeconds(1))
            throw new ArgumentException($"kv.backup.schedule must be at least 1s (got {s})");
        if (Keep < 1)
            throw new ArgumentException($"kv.backup.keep must be at least 1 (got {Keep})");
    }
}
