using System.Globalization;

namespace Kv.Chaos.Workloads;

/// <summary>
/// The TTL checker. A value's expiry is stamped by the node that coordinates its put, somewhere
/// between the put's invocation and its acknowledgement, as that node's now + ttl; so for an
/// acknowledged put, expiry &lt;= complete + ttl. Every node of a campaign runs on one machine (one
/// clock), and a node serves a value only while its clock reads less than expiry - tolerance (the
/// tolerance makes a node stop early, never late: the checker allows nothing for it). A read that
/// is invoked after complete + ttl (+ 1 ms for the whole-millisecond clocks) and still returns that
/// value is a violation:
/// - expired: a read (get, or the final read) returned the value of an acknowledged put after its
///   expiry had certainly passed;
/// - exists-expired: an exists said yes when no put of the key could still be live (every put
///   invoked before the exists completed was acknowledged and had certainly expired before it was
///   invoked, or failed);
/// - unexpected: a read returned a value never written, or one whose put failed, or before its put was invoked.
/// Values of indeterminate puts may be read at any time (their expiry has no upper bound: the put may
/// be coordinated late). So may values of acknowledged puts that may have been retried: the client
/// sends a write to another node only when its attempt timed out (campaign clients: after
/// <see cref="Requests.Timeout"/> + 1 s), and the first attempt, held by a paused or slow node, may be
/// applied (and stamped, with a later expiry) after the acknowledgement. A put that took at least
/// <see cref="Requests.Timeout"/> counts as possibly retried. Valid when all three are 0 and every key
/// had its final read.
/// </summary>
public static class TtlChecker
{
    /// <summary>The nodes' clocks count whole milliseconds (the stamp and the check each truncate).</summary>
    public const double SlackMs = 1;

    /// <summary>The TTL a workload value carries (<c>...-ttlMS</c>), or null.</summary>
    public static double? TtlOf(string value)
    {
        int at = value.LastIndexOf("-ttl", StringComparison.Ordinal);
        return at >= 0 && double.TryParse(value.AsSpan(at + 4), NumberStyles.None, CultureInfo.InvariantCulture, out double ms) ? ms : null;
    }

    /// <summary>
    /// Whether the client may have sent <paramref name="put"/> twice: it moves a write to another node only
    /// after an attempt timed out, which takes longer than <see cref="Requests.Timeout"/>.
    /// </summary>
    public static bool MaybeRetried(Op put) => put.Complete - put.Invoke >= Requests.Timeout.TotalMilliseconds;

    public static CheckResult Check(IReadOnlyList<Op> history)
    {
        var puts = history.Where(o => o.Kind == "put").ToList();
        var byValue = puts.Where(p => p.Value is not null).GroupBy(p => p.Value!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var putsByKey = puts.GroupBy(p => p.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var finals = RegisterChecker.FinalReads(history);
        var examples = new List<string>();
        long retriable = puts.Count(p => p.Outcome == Outcome.Ok && MaybeRetried(p));
        long expired = 0, existsExpired = 0, unexpected = 0, unread = 0, valuesRead = 0, nearExpiry = 0, existsYes = 0;
        foreach (var read in history.Where(o => o.Kind is "read" or Op.FinalRead && o.Outcome == Outcome.Ok && o.Values is not null))
        {
            foreach (string value in read.Values!.Distinct(StringComparer.Ordinal))
            {
                valuesRead++;
                if (!byValue.TryGetValue(value, out var put) || put.Outcome == Outcome.Fail || put.Invoke > read.Complete || TtlOf(value) is not { } ttl)
                {
                    unexpected++;
                    RegisterChecker.Example(examples, $"unexpected: {read.Key} read '{value}' at {read.Invoke:0} ms: " +
                        (put is null ? "never written" : put.Outcome == Outcome.Fail ? "its put failed" : "before its put was invoked"));
                    continue;
                }
                if (put.Outcome != Outcome.Ok || MaybeRetried(put))
                    continue;
                double latest = put.Complete + ttl;
                if (read.Invoke > latest + SlackMs)
                {
                    expired++;
                    RegisterChecker.Example(examples, $"expired: {read.Client} read {read.Key} = '{value}' at {read.Invoke:0} ms; its put was acknowledged at {put.Complete:0} ms with ttl {ttl:0} ms, so it expired by {latest:0} ms");
                }
                else if (read.Invoke > put.Invoke + ttl - 1000)
                {
                    nearExpiry++; // read within a second of its expiry: the checks were close to the edge
                }
            }
        }
        foreach (var exists in history.Where(o => o.Kind == TtlWorkload.ExistsKind && o.Outcome == Outcome.Ok && o.Values is { Count: > 0 }))
        {
            existsYes++;
            var candidates = putsByKey.GetValueOrDefault(exists.Key) ?? [];
            bool possiblyLive = candidates.Any(p => p.Invoke < exists.Complete && p.Outcome != Outcome.Fail
                && (p.Outcome == Outcome.Info || MaybeRetried(p) || TtlOf(p.Value ?? "") is not { } ttl || p.Complete + ttl + SlackMs >= exists.Invoke));
            if (!possiblyLive)
            {
                existsExpired++;
                RegisterChecker.Example(examples, $"exists-expired: {exists.Client} was told {exists.Key} exists at {exists.Invoke:0} ms, but every put of it had expired or failed");
            }
        }
        foreach (string key in putsByKey.Keys)
        {
            if (!finals.TryGetValue(key, out var final) || final.Outcome != Outcome.Ok)
            {
                unread++;
                RegisterChecker.Example(examples, $"unread: {key}: {final?.Error ?? "no final read"}");
            }
        }
        var reads = history.Where(o => o.Kind == "read").ToList();
        return new CheckResult("ttl", expired == 0 && existsExpired == 0 && unexpected == 0 && unread == 0,
        [
            new("puts", puts.Count),
            new("acknowledged", history.Count(o => o.Outcome == Outcome.Ok && o.Kind is "put" or "read" or TtlWorkload.ExistsKind)),
            new("puts acknowledged", puts.Count(o => o.Outcome == Outcome.Ok)),
            new("failed", puts.Count(o => o.Outcome == Outcome.Fail)),
            new("indeterminate", puts.Count(o => o.Outcome == Outcome.Info)),
            new("acknowledged, maybe retried (unbounded)", retriable),
            new("reads", reads.Count),
            new("reads ok", reads.Count(o => o.Outcome == Outcome.Ok)),
            new("values read", valuesRead),
            new("values read within 1 s of expiry", nearExpiry),
            new("exists said yes", existsYes),
            new("exists said no", history.Count(o => o.Kind == TtlWorkload.ExistsKind && o.Outcome == Outcome.Ok && o.Values is { Count: 0 })),
            new("expired", expired),
            new("exists-expired", existsExpired),
            new("unexpected", unexpected),
            new("unread", unread),
        ], examples);
    }
}
