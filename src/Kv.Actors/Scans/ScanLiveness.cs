using Kv.Actors.Objects;

namespace Kv.Actors.Scans;

/// <summary>
/// What a scan shows: the one place that decides whether a stored value is live (not a tombstone;
/// and, where values expire, not expired at <c>nowMs</c>). A key is in a page when one of its
/// values is live; its live values are its siblings. The coordinator decides at merge time, the
/// client shows the live values of each item with the same predicate.
/// </summary>
public static class ScanLiveness
{
    /// <summary>Whether one value is live at <paramref name="nowMs"/> (unix ms).</summary>
    public static bool IsLive(Sibling value, long nowMs) => !value.Deleted;

    /// <summary>The live values of <paramref name="obj"/> at <paramref name="nowMs"/>.</summary>
    public static IReadOnlyList<Sibling> LiveValues(DvvSet<Sibling> obj, long nowMs) => obj.Values.Where(v => IsLive(v, nowMs)).ToList();

    /// <summary>Whether a scan shows the key: some value of it is live.</summary>
    public static bool IsLive(DvvSet<Sibling> obj, long nowMs) => obj.Values.Any(v => IsLive(v, nowMs));
}
