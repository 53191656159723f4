using Akka.Actor;
using Kv.Actors.Scans;

namespace Kv.Actors.Coordinators;

/// <summary>
/// The router's part in scans: checks the request (namespace, limit 1..<see cref="ScanLimits.MaxLimit"/>,
/// the range, the continuation token, the quorum override) and starts a <see cref="ScanCoordinator"/>
/// for the page. Bad input is answered with the error and starts nothing.
/// </summary>
public sealed partial class RequestRouter
{
    private void OnScan(KvScan scan)
    {
        if (scan.Limit is < 1 or > ScanLimits.MaxLimit)
        {
            Fail($"a scan's limit must be 1..{ScanLimits.MaxLimit} (got {scan.Limit})");
            return;
        }
        if (scan.Range.Invalid(_options.MaxKeyBytes) is { } bad)
        {
            Fail(bad);
            return;
        }
        byte[]? after = null;
        if (scan.After is not null)
        {
            try
            {
                after = ScanToken.Decode(scan.After, scan.Namespace, scan.Range);
            }
            catch (FormatException e)
            {
                Fail(e.Message);
                return;
            }
        }
        // The namespace, the ring, serving, and the overrides, checked as for a get (of a stand-in key).
        var props = Prepare(scan.Namespace, [0], scan.Options);
        if (props is null)
            return;
        var (ns, range, limit, r, ring, replyTo) = (scan.Namespace, scan.Range, scan.Limit, scan.Options.R, KnownRing!, Sender);
        var timeout = scan.Options.Timeout ?? ScanLimits.DefaultTimeout;
        long toleranceMs = (long)_options.TtlClockSkewTolerance.TotalMilliseconds;
        Context.ActorOf(KvProps.Of(() => new ScanCoordinator(ns, range, limit, after, props, r, timeout, toleranceMs, ring, replyTo)));
    }
}
