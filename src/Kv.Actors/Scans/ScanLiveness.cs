using Kv.Actors.Objects;

namespace Kv.Actors.Scans;

/// <summary>
/// What a scan shows: the one place that decides whether a stored value is live, applied by the
/// scan coordinator at merge time. A value is gone when it is a tombstone or has expired
/// (<see cref="Expiry.IsGone"/>: the skew rule with kv.ttl.clock-skew-tolerance, as a get). A key is
/// in a page when one of its values is live; expired values are turned into tombstones in place
/// (<see cref="Expiry.AsRead"/>: the causal context stays whole), so the live values of a page's
/// object are the ones not deleted (<see cref="Shown"/>), whatever the client's clock says.
/// </summary>
public static class ScanLiveness
{
    /// <summary>Whether one value is live at <paramref name="nowMs"/> (unix ms) on a node with this skew tolerance.</summary>
    public static bool IsLive(Sibling value, long nowMs, long toleranceMs) => !Expiry.IsGone(value, nowMs, toleranceMs);

    /// <summary>
    /// The object as a page carries it (expired values as tombstones), or null when the scan leaves
    /// the key out (no live value).
    /// </summary>
    public static DvvSet<Sibling>? AsShown(DvvSet<Sibling> obj, long nowMs, long toleranceMs)
    {
        bool any = false;
        foreach (var v in obj.Values)
            any |= IsLive(v, nowMs, toleranceMs);
        return any ? Expiry.AsRead(obj, nowMs, toleranceMs) : null;
    }

    /// <summary>The live values of an object of a page (the coordinator has turned expired ones into tombstones).</summary>
    public static IReadOnlyList<Sibling> Shown(DvvSet<Sibling> obj) => obj.Values.Where(v => !v.Deleted).ToList();
}
