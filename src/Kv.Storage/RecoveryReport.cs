namespace Kv.Storage;

/// <summary>What opening an engine found in its write-ahead logs.</summary>
public sealed record RecoveryReport
{
    public static readonly RecoveryReport Clean = new();

    /// <summary>Batches replayed from the WAL.</summary>
    public long BatchesReplayed { get; init; }

    /// <summary>A torn tail was cut off (a write that a crash interrupted; never acknowledged as durable).</summary>
    public bool TornTailTruncated { get; init; }

    /// <summary>The corruption that stopped replay, if any; the state recovered is the prefix before it.</summary>
    public StorageCorruptionException? Corruption { get; init; }

    /// <summary>Logs set aside as *.corrupt (the damaged one and any after it).</summary>
    public IReadOnlyList<string> QuarantinedLogs { get; init; } = [];
}
