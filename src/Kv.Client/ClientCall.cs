using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Akka.Actor;

namespace Kv.Client;

/// <summary>
/// One client request: checked and encoded once, then sent to the first candidate node (the key's
/// preference list order, healthy nodes first), moving to the next when the attempt times out, the
/// client marks that node down while a read waits on it, or the node answers that it cannot serve yet. The
/// reply becomes a client result (<see cref="Replies.Map"/>) or a <see cref="KvFailure"/>; running
/// never throws. No actor per request: a temporary ref (<see cref="ReplyPromise"/>) receives the reply.
/// </summary>
internal sealed partial class ClientCall
{
    private readonly string _ns = "";
    private readonly string _key = "";
    private readonly byte[] _nsBytes = [];
    private readonly byte[] _keyBytes = [];
    private readonly object _message;
    private readonly bool _admin;

    private ClientCall(object message, bool admin) => (_message, _admin) = (message, admin);

    private ClientCall(string ns, string key, int valueBytes, KvClientOptions options, Func<byte[], byte[], object> message)
    {
        (_ns, _key) = (ns, key);
        Error = Replies.Check(ns, key, valueBytes, options.MaxValueBytes);
        if (Error is not null)
        {
            _message = "";
            return;
        }
        _nsBytes = Encoding.UTF8.GetBytes(ns);
        _keyBytes = Encoding.UTF8.GetBytes(key);
        _message = message(_nsBytes, _keyBytes);
    }

    /// <summary>Why the request cannot be sent (null if it can).</summary>
    public KvException? Error { get; }

    public static ClientCall For(Get g, KvClientOptions options) =>
        new(g.Namespace, g.Key, 0, options, (ns, key) => new KvGet(ns, key, g.Options ?? RequestOptions.None));

    public static ClientCall For(Put p, KvClientOptions options) =>
        TtlError(p.Ttl) is { } badTtl ? new ClientCall(badTtl) :
        new(p.Namespace, p.Key, p.Value.Length, options, (ns, key) =>
            new KvPut(ns, key, new Sibling(p.Value, p.ContentType, 0, false), (p.Context ?? CausalContext.Empty).Vector, p.Options ?? RequestOptions.None) { Ttl = p.Ttl });

    public static ClientCall For(Delete d, KvClientOptions options) =>
        new(d.Namespace, d.Key, 0, options, (ns, key) => new KvDelete(ns, key, (d.Context ?? CausalContext.Empty).Vector, d.Options ?? RequestOptions.None));

    /// <summary>A CRDT update (KvClient.DataTypes.cs); its items count toward the value limit.</summary>
    internal static ClientCall For(string ns, string key, Kv.Actors.Crdt.CrdtOp op, RequestOptions? options, KvClientOptions clientOptions) =>
        new(ns, key, op.Items.Sum(i => i.Length), clientOptions, (nsBytes, keyBytes) => new KvUpdate(nsBytes, keyBytes, op, options ?? RequestOptions.None));

    public static ClientCall For(AdminRequest a) => new(a.Message, admin: true);

    public async Task<object> RunAsync(ClientRouting routing, KvClientOptions options)
    {
        if (Error is not null)
            return new KvFailure(Error);
        var candidates = _admin ? routing.Nodes : routing.CandidatesFor(_nsBytes, _keyBytes);
        long deadline = Environment.TickCount64 + (long)options.RequestTimeout.TotalMilliseconds;
        List<string>? tried = null;
        for (int i = 0; i < candidates.Count; i++)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
                break;
            string address = candidates[i];
            (tried ??= new List<string>(2)).Add(address);
            var node = routing.Node(address);
            bool last = i == candidates.Count - 1;
            var timeout = TimeSpan.FromMilliseconds(Math.Min(left, (long)options.AttemptTimeout.TotalMilliseconds));
            object reply;
            try
            {
                // A read moves on as soon as the client marks its node down. A write waits for its
                // attempt to time out: the node may have applied it, and a second coordinator would
                // make a second version of it (a sibling), so it is only retried when it must be.
                // The last candidate is waited for in any case: there is no other.
                var target = _admin ? node.Admin : node.Router;
                bool abandonOnDown = !last && _message is not (KvPut or KvDelete or KvUpdate or Kv.Actors.Consistent.KvCas);
                reply = await ReplyPromise.Ask(node.System, target, node.Wrap(_message), timeout, abandonOnDown ? node.DownToken : CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
            {
                // A data type update that may have been applied is not sent again: an increment
                // would count twice, an add would take a second dot that a remove may not see.
                // Nor is a write to a consistent namespace: both attempts could take effect, the
                // first one late, after the second was answered (a lost update under linearizability).
                if (_message is KvUpdate or Kv.Actors.Consistent.KvCas || (_message is KvPut or KvDelete && routing.IsConsistent(_ns)))
                    return new KvFailure(new KvTimeoutException($"no answer in time from {address}: the update may or may not have been applied"));
                continue;
            }
            var result = _admin ? (reply is RequestFailed ? Replies.Map(_ns, _key, reply) : reply) : Replies.Map(_ns, _key, reply);
            if (result is KvFailure { Error: KvUnavailableException } && !last)
                continue;
            return result;
        }
        string what = tried is null ? "no node known" : "tried " + string.Join(", ", tried);
        return new KvFailure(tried is null ? new KvUnavailableException(what) : new KvTimeoutException($"no node answered in time ({what})"));
    }
}
