using System.Runtime.CompilerServices;
using System.Text;
using Akka.Actor;
using Kv.Actors.Coordinators;
using Kv.Actors.Scans;

namespace Kv.Client;

/// <summary>A page of a scan: objects in key order (each with its live siblings and context), and the token of the next page (null: no more).</summary>
public sealed record KvScanPage(IReadOnlyList<KvObject> Items, string? NextToken);

public sealed partial class KvClient
{
    /// <summary>
    /// One page of the keys of <paramref name="ns"/> in <paramref name="range"/> (a prefix, or
    /// [start, end)), in key order, at most <paramref name="limit"/> (1..10,000) of them, after the
    /// page whose <see cref="KvScanPage.NextToken"/> is <paramref name="after"/>. Deleted (and
    /// expired) keys are left out; each key's siblings are shown. By default each key is read from
    /// one replica of its partition; <c>options.R</c> reads each key of the page at that quorum.
    /// <c>options.Timeout</c> bounds the page (default 30 s). A bad token, a range whose start is
    /// after its end, a limit out of range or an unknown namespace is an <see cref="InvalidRequestException"/>
    /// (<see cref="UnknownNamespaceException"/>).
    /// </summary>
    public async Task<KvScanPage> ScanAsync(string ns, ScanRange range, int limit = ScanLimits.DefaultLimit, string? after = null, RequestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(range);
        int nsBytes = Encoding.UTF8.GetByteCount(ns);
        if (nsBytes is 0 or > 255)
            throw new InvalidKeyException($"a namespace must be 1..255 bytes (got {nsBytes})");
        options ??= RequestOptions.None;
        var message = new KvScan(Encoding.UTF8.GetBytes(ns), range, limit, after, options);
        var attempt = (options.Timeout ?? ScanLimits.DefaultTimeout) + TimeSpan.FromSeconds(5);
        long deadline = Environment.TickCount64 + (long)Math.Max(attempt.TotalMilliseconds, Options.RequestTimeout.TotalMilliseconds);
        var routing = _routing.Current;
        var candidates = routing.Nodes;
        var tried = new List<string>();
        KvException? last = null;
        foreach (string address in candidates)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
                break;
            tried.Add(address);
            object reply;
            try
            {
                reply = await routing.Node(address).Router.Ask<object>(routing.Node(address).Wrap(message), TimeSpan.FromMilliseconds(Math.Min(left, attempt.TotalMilliseconds))).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                last = new KvTimeoutException($"no answer to the scan in time from {address}");
                continue;
            }
            switch (reply)
            {
                case ScanPage page:
                    var items = page.Items.Select(i => new KvObject(ns, Encoding.UTF8.GetString(i.Key), true,
                        ScanLiveness.Shown(i.Object).Select(Replies.ToValue).ToList(), new CausalContext(i.Object.Join()))).ToList();
                    return new KvScanPage(items, page.NextToken);
                case RequestFailed { Code: FailureCode.Unavailable } f:
                    last = new KvUnavailableException(f.Reason); // this node cannot serve the scan: the next one may
                    continue;
                default:
                    if (Replies.Map(ns, "", reply) is KvFailure failure)
                        throw failure.Error;
                    throw new KvException($"unexpected reply to a scan: {reply}");
            }
        }
        throw last ?? new KvUnavailableException("no node known to send the scan to");
    }

    /// <summary>Every key of <paramref name="ns"/> in <paramref name="range"/>, page after page (<paramref name="pageSize"/> keys each), in key order.</summary>
    public async IAsyncEnumerable<KvObject> ScanAllAsync(string ns, ScanRange range, int pageSize = ScanLimits.DefaultLimit, RequestOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? token = null;
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await ScanAsync(ns, range, pageSize, token, options).ConfigureAwait(false);
            foreach (var item in page.Items)
                yield return item;
            token = page.NextToken;
        }
        while (token is not null);
    }
}
