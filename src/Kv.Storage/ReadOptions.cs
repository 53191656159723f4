namespace Kv.Storage;

/// <summary>Options for reads and iterators.</summary>
public sealed record ReadOptions
{
    public static readonly ReadOptions Default = new();

    /// <summary>Read as of this snapshot; null reads the latest state.</summary>
    public Snapshot? Snapshot { get; init; }

    /// <summary>Inclusive lower bound of an iterator.</summary>
    public byte[]? LowerBound { get; init; }

    /// <summary>Exclusive upper bound of an iterator.</summary>
    public byte[]? UpperBound { get; init; }

    /// <summary>Whether blocks read are added to the block cache (false for bulk scans).</summary>
    public bool FillCache { get; init; } = true;

    /// <summary>Bounds that select exactly the keys starting with <paramref name="prefix"/>.</summary>
    public static ReadOptions ForPrefix(ReadOnlySpan<byte> prefix, Snapshot? snapshot = null) =>
        new() { LowerBound = prefix.ToArray(), UpperBound = PrefixSuccessor(prefix), Snapshot = snapshot };

    /// <summary>The smallest key greater than every key with this prefix, or null if none exists (all 0xFF).</summary>
    public static byte[]? PrefixSuccessor(ReadOnlySpan<byte> prefix)
    {
        for (int i = prefix.Length - 1; i >= 0; i--)
        {
            if (prefix[i] != 0xFF)
            {
                byte[] s = prefix[..(i + 1)].ToArray();
                s[i]++;
                return s;
            }
        }
        return null;
    }
}
