using System.Collections.Immutable;

namespace Kv.Actors.Objects;

/// <summary>
/// Values with a time to live. A put with a TTL gets an absolute expiry instant (Unix ms), stamped
/// by the node that coordinates the write as its clock's now + ttl, stored with the value (and so
/// with its dot: the same version has the same expiry on every replica). The skew rule: a node
/// treats a value as expired once its own clock reads expiry - tolerance
/// (<c>kv.ttl.clock-skew-tolerance</c>), so while node clocks differ by at most the tolerance no
/// node serves a value after the stamping node's clock has passed its expiry. An expired value reads
/// as a tombstone everywhere; an object whose values are all tombstones or expired is reaped like a
/// deleted key (see <see cref="Dead"/>, <see cref="ReapDueMs"/>).
/// </summary>
public static class Expiry
{
    /// <summary>The longest TTL a put may ask for (about 10 years).</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromDays(3650);

    /// <summary>Why <paramref name="ttl"/> is not a valid TTL, or null when it is (more than 0, at least 1 ms, at most <see cref="MaxTtl"/>).</summary>
    public static string? Check(TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero)
            return $"a ttl must be positive (got {ttl})";
        if (ttl < TimeSpan.FromMilliseconds(1))
            return $"a ttl must be at least 1 ms (got {ttl.TotalMilliseconds} ms)";
        if (ttl > MaxTtl)
            return $"a ttl must be at most {MaxTtl.TotalDays:0} days (got {ttl.TotalDays:0.#} days)";
        return null;
    }

    /// <summary>The expiry instant of a value written at <paramref name="nowMs"/> with <paramref name="ttl"/> (0: no ttl).</summary>
    public static long Stamp(long nowMs, TimeSpan? ttl) => ttl is { } t ? nowMs + (long)Math.Ceiling(t.TotalMilliseconds) : 0;

    /// <summary>Whether a node whose clock reads <paramref name="nowMs"/> treats <paramref name="value"/> as expired (the skew rule).</summary>
    public static bool IsExpired(Sibling value, long nowMs, long toleranceMs) => value.ExpiresAtMs != 0 && nowMs >= value.ExpiresAtMs - toleranceMs;

    /// <summary>Whether <paramref name="value"/> reads as nothing: a tombstone, or expired (the skew rule).</summary>
    public static bool IsGone(Sibling value, long nowMs, long toleranceMs) => value.Deleted || IsExpired(value, nowMs, toleranceMs);

    /// <summary>Whether any value of <paramref name="obj"/> carries an expiry.</summary>
    public static bool AnyExpiry(DvvSet<Sibling> obj)
    {
        foreach (var v in obj.Anonymous)
        {
            if (v.ExpiresAtMs != 0)
                return true;
        }
        foreach (var e in obj.Entries)
        {
            foreach (var v in e.Values)
            {
                if (v.ExpiresAtMs != 0)
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// <paramref name="obj"/> as a read answers it: every expired value replaced by a tombstone in its
    /// place (so the dots of the others stay where they are and the causal context is unchanged).
    /// The same instance when nothing expired.
    /// </summary>
    public static DvvSet<Sibling> AsRead(DvvSet<Sibling> obj, long nowMs, long toleranceMs)
    {
        if (!AnyExpiry(obj))
            return obj;
        bool changed = false;
        ImmutableArray<Sibling> Map(ImmutableArray<Sibling> values)
        {
            if (!values.Any(v => !v.Deleted && IsExpired(v, nowMs, toleranceMs)))
                return values;
            changed = true;
            return values.Select(v => !v.Deleted && IsExpired(v, nowMs, toleranceMs) ? new Sibling([], "", v.LastModifiedMs, deleted: true, v.ExpiresAtMs) : v).ToImmutableArray();
        }
        var entries = obj.Entries.Select(e => Map(e.Values) is var m && m != e.Values ? e with { Values = m } : e).ToImmutableArray();
        var anonymous = Map(obj.Anonymous);
        return changed ? new DvvSet<Sibling>(entries, anonymous) : obj;
    }

    /// <summary>
    /// Whether <paramref name="obj"/> holds nothing live at <paramref name="nowMs"/>: every value a
    /// tombstone or past its expiry (no tolerance: reaping is never early), and at least one value.
    /// Such an object is reaped like a tombstone.
    /// </summary>
    public static bool Dead(DvvSet<Sibling> obj, long nowMs)
    {
        bool any = false;
        foreach (var v in obj.Values)
        {
            if (!v.Deleted && (v.ExpiresAtMs == 0 || nowMs < v.ExpiresAtMs))
                return false;
            any = true;
        }
        return any;
    }

    /// <summary>
    /// When <paramref name="obj"/> becomes <see cref="Dead"/> (Unix ms; <paramref name="nowMs"/> for an
    /// object of tombstones alone, the latest expiry plus <paramref name="toleranceMs"/> for one whose
    /// live values all expire, so that no node's clock still shows one live), or null when it holds a
    /// value without a TTL (or nothing).
    /// </summary>
    public static long? ReapDueMs(DvvSet<Sibling> obj, long nowMs, long toleranceMs)
    {
        long due = 0;
        bool any = false;
        foreach (var v in obj.Values)
        {
            any = true;
            if (v.Deleted)
                continue;
            if (v.ExpiresAtMs == 0)
                return null;
            due = Math.Max(due, v.ExpiresAtMs + toleranceMs);
        }
        return any ? Math.Max(due, nowMs) : null;
    }
}
