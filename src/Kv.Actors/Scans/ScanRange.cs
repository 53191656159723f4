using System.Buffers.Binary;
using Kv.Actors.Vnode;
using Kv.Storage;

namespace Kv.Actors.Scans;

/// <summary>
/// Which keys of a namespace a scan covers: those starting with <see cref="Prefix"/>, or those in
/// [<see cref="Start"/>, <see cref="End"/>) (either side open when null); all of them when all three
/// are null. Keys compare as bytes (ordinal), the order of the store's keys and of a scan's pages.
/// </summary>
public sealed record ScanRange(byte[]? Prefix, byte[]? Start, byte[]? End)
{
    /// <summary>Every key of the namespace.</summary>
    public static readonly ScanRange All = new(null, null, null);

    public static ScanRange WithPrefix(byte[] prefix) => new(prefix, null, null);

    public static ScanRange Between(byte[]? start, byte[]? end) => new(null, start, end);

    /// <summary>The keys starting with <paramref name="prefix"/> (UTF-8).</summary>
    public static ScanRange WithPrefix(string prefix) => WithPrefix(System.Text.Encoding.UTF8.GetBytes(prefix));

    /// <summary>The keys in [<paramref name="start"/>, <paramref name="end"/>) (UTF-8; null: open on that side).</summary>
    public static ScanRange Between(string? start, string? end) =>
        Between(start is null ? null : System.Text.Encoding.UTF8.GetBytes(start), end is null ? null : System.Text.Encoding.UTF8.GetBytes(end));

    /// <summary>Why the range is not a valid one (null: it is), for keys of at most <paramref name="maxKeyBytes"/> bytes.</summary>
    public string? Invalid(int maxKeyBytes)
    {
        if (Prefix is not null && (Start is not null || End is not null))
            return "a scan takes either a prefix or start/end bounds, not both";
        if (Prefix is { Length: 0 })
            return "a prefix must not be empty (leave it out to scan the whole namespace)";
        foreach (var (name, bound) in new[] { ("prefix", Prefix), ("start", Start), ("end", End) })
        {
            if (bound is not null && bound.Length > maxKeyBytes)
                return $"the {name} is {bound.Length} bytes, longer than a key can be ({maxKeyBytes} bytes)";
        }
        if (Start is not null && End is not null && Start.AsSpan().SequenceCompareTo(End) > 0)
            return "start must not come after end (the range is [start, end))";
        return null;
    }

    /// <summary>Whether <paramref name="key"/> is in the range.</summary>
    public bool Contains(ReadOnlySpan<byte> key) =>
        (Prefix is null || key.StartsWith(Prefix))
        && (Start is null || key.SequenceCompareTo(Start) >= 0)
        && (End is null || key.SequenceCompareTo(End) < 0);

    /// <summary>
    /// The vnode's storage-key bounds [lower, upper) of the range's keys in <paramref name="ns"/> that
    /// come after <paramref name="after"/> (null: from the start): a storage key is the namespace's
    /// length (u16) and name, then the key, so a namespace's keys are one contiguous run in key order.
    /// </summary>
    public (byte[] Lower, byte[] Upper) StorageBounds(byte[] ns, byte[]? after)
    {
        var nsPrefix = new byte[2 + ns.Length];
        BinaryPrimitives.WriteUInt16BigEndian(nsPrefix, (ushort)ns.Length);
        ns.CopyTo(nsPrefix, 2);
        byte[] lower = [];
        foreach (var candidate in new[] { Start, Prefix, after is null ? null : [.. after, 0] })
        {
            // [.. after, 0] is the smallest key after it.
            if (candidate is not null && candidate.AsSpan().SequenceCompareTo(lower) > 0)
                lower = candidate;
        }
        byte[]? upper = End;
        if (Prefix is not null && ReadOptions.PrefixSuccessor(Prefix) is { } next && (upper is null || next.AsSpan().SequenceCompareTo(upper) < 0))
            upper = next;
        return ([.. nsPrefix, .. lower], upper is null ? ReadOptions.PrefixSuccessor(nsPrefix)! : [.. nsPrefix, .. upper]);
    }

    /// <summary>The key of a storage key of <paramref name="ns"/> (null: malformed, or another namespace's).</summary>
    internal static byte[]? KeyOf(byte[] storageKey, ReadOnlySpan<byte> ns) =>
        VnodeActor.SplitStorageKey(storageKey) is { } split && split.Ns.AsSpan().SequenceEqual(ns) && split.Key.Length > 0 ? split.Key : null;
}
