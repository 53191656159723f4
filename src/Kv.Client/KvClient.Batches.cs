using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Akka.Actor;

namespace Kv.Client;

/// <summary>
/// The outcome of one key of a batch: <see cref="Result"/> (a <see cref="KvObject"/>, found or not,
/// or a <see cref="KvWriteResult"/>) or the <see cref="Error"/> a single request would have thrown.
/// </summary>
public sealed record KvOutcome<T>(string Key, T? Result, KvException? Error) where T : class
{
    public bool Ok => Error is null;

    /// <summary>The result, or throws the key's error.</summary>
    public T Value => Error is null ? Result! : throw Error;
}

/// <summary>One write of <see cref="KvClient.PutManyAsync(string, IReadOnlyList{KvPutItem}, RequestOptions?)"/>.</summary>
public sealed record KvPutItem(string Key, byte[] Value, CausalContext? Context = null, string ContentType = "application/octet-stream")
{
    /// <summary>A UTF-8 text value.</summary>
    public static KvPutItem Text(string key, string value, CausalContext? context = null) =>
        new(key, Encoding.UTF8.GetBytes(value), context, "text/plain; charset=utf-8");
}

/// <summary>
/// Batches: many keys of one namespace in a few messages. The keys are grouped by the node a
/// single request for each would go to first (a replica of the key, from the client's ring), and
/// each group travels as one request to that node, which coordinates every key of it with the
/// usual quorum (a batch is not atomic: each key is its own quorum operation). A group whose node
/// does not answer in time (or, for reads, is marked down, or cannot serve) is sent again, key by
/// key regrouped, to each key's next node, as single requests move on.
/// </summary>
public sealed partial class KvClient
{
    /// <summary>Reads <paramref name="keys"/>: one outcome per key, in order (a found or not-found <see cref="KvObject"/>, or the key's error).</summary>
    /// <exception cref="InvalidRequestException">No keys, or more than <see cref="BatchLimits.MaxKeys"/>.</exception>
    public async Task<IReadOnlyList<KvOutcome<KvObject>>> GetManyAsync(string ns, IReadOnlyList<string> keys, RequestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var call = new BatchCall(ns, keys.Count, read: true);
        for (int i = 0; i < keys.Count; i++)
            call.Add(i, keys[i], 0, (nsb, kb) => kb);
        var results = await call.RunAsync(_routing, Options, (nsBytes, group) =>
            new KvGetMany(nsBytes, group.Select(i => (byte[])call.Payload(i)).ToList(), options ?? RequestOptions.None)).ConfigureAwait(false);
        return results.Select((r, i) => new KvOutcome<KvObject>(keys[i], r as KvObject, r as KvException)).ToList();
    }

    /// <summary>Writes <paramref name="items"/>: one outcome per item, in order (a <see cref="KvWriteResult"/> or the item's error; nothing is stored for a refused item).</summary>
    /// <exception cref="InvalidRequestException">No items, or more than <see cref="BatchLimits.MaxKeys"/>.</exception>
    public async Task<IReadOnlyList<KvOutcome<KvWriteResult>>> PutManyAsync(string ns, IReadOnlyList<KvPutItem> items, RequestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        var call = new BatchCall(ns, items.Count, read: false);
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            call.Add(i, item.Key, item.Value.Length, (nsb, kb) =>
                new KvPutManyItem(kb, new Sibling(item.Value, item.ContentType, 0, false), (item.Context ?? CausalContext.Empty).Vector));
        }
        var results = await call.RunAsync(_routing, Options, (nsBytes, group) =>
            new KvPutMany(nsBytes, group.Select(i => (KvPutManyItem)call.Payload(i)).ToList(), options ?? RequestOptions.None)).ConfigureAwait(false);
        return results.Select((r, i) => new KvOutcome<KvWriteResult>(items[i].Key, r as KvWriteResult, r as KvException)).ToList();
    }

    /// <summary>Writes UTF-8 text values: (key, value, context of an earlier read or null).</summary>
    public Task<IReadOnlyList<KvOutcome<KvWriteResult>>> PutManyAsync(string ns, IReadOnlyList<(string Key, string Value, CausalContext? Context)> items, RequestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        return PutManyAsync(ns, items.Select(i => KvPutItem.Text(i.Key, i.Value, i.Context)).ToList(), options);
    }

    /// <summary>One batch on the client: its keys checked and encoded once, then sent per node, moving groups on as single requests move on.</summary>
    private sealed class BatchCall
    {
        private readonly string _ns;
        private readonly byte[] _nsBytes;
        private readonly bool _read;
        private readonly string[] _keys;
        private readonly byte[][] _keyBytes;
        private readonly object[] _payload;
        private readonly int[] _sizes;
        private readonly object?[] _results;
        private readonly int[] _sameAs;

        public BatchCall(string ns, int count, bool read)
        {
            if (count is 0 or > BatchLimits.MaxKeys)
                throw new InvalidRequestException($"a batch takes 1..{BatchLimits.MaxKeys} keys (got {count})");
            if (Replies.Check(ns, "k", 0, int.MaxValue) is { } bad)
                throw bad;
            (_ns, _read) = (ns, read);
            _nsBytes = Encoding.UTF8.GetBytes(ns);
            _keys = new string[count];
            _keyBytes = new byte[count][];
            _payload = new object[count];
            _sizes = new int[count];
            _results = new object?[count];
            _sameAs = new int[count];
        }

        private readonly Dictionary<string, int> _first = new(StringComparer.Ordinal);

        public void Add(int i, string key, int valueBytes, Func<byte[], byte[], object> payload)
        {
            _keys[i] = key;
            _sameAs[i] = -1;
            if (Replies.Check(_ns, key, valueBytes, int.MaxValue) is { } bad)
            {
                _results[i] = bad;
                return;
            }
            if (_first.TryGetValue(key, out int earlier))
            {
                // A read of the same key twice shares one answer; a second write of a key is refused.
                if (_read)
                    _sameAs[i] = earlier;
                else
                    _results[i] = new InvalidRequestException($"the key is in the batch twice (first at {earlier}): write it once");
                return;
            }
            _first[key] = i;
            _keyBytes[i] = Encoding.UTF8.GetBytes(key);
            _payload[i] = payload(_nsBytes, _keyBytes[i]);
            _sizes[i] = valueBytes + _keyBytes[i].Length + 64;
        }

        public object Payload(int i) => _payload[i];

        public async Task<object?[]> RunAsync(RoutingState state, KvClientOptions options, Func<byte[], List<int>, object> message)
        {
            var pending = new List<int>();
            for (int i = 0; i < _keys.Length; i++)
            {
                if (_results[i] is null && _sameAs[i] < 0)
                    pending.Add(i);
            }
            var tried = new Dictionary<int, List<string>>();
            long deadline = Environment.TickCount64 + (long)options.RequestTimeout.TotalMilliseconds;
            while (pending.Count > 0)
            {
                long left = deadline - Environment.TickCount64;
                var routing = state.Current;
                // Each key to the first node it has not tried yet, in its preference order.
                var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
                foreach (int i in pending)
                {
                    var candidates = routing.CandidatesFor(_nsBytes, _keyBytes[i]);
                    var done = tried.GetValueOrDefault(i);
                    string? next = candidates.FirstOrDefault(c => done is null || !done.Contains(c));
                    if (next is null || left <= 0)
                    {
                        string what = done is null ? "no node known" : "tried " + string.Join(", ", done);
                        _results[i] = done is null ? new KvUnavailableException(what) : new KvTimeoutException($"no node answered in time ({what})");
                        continue;
                    }
                    (tried.TryGetValue(i, out var t) ? t : tried[i] = []).Add(next);
                    bool last = candidates.All(c => tried[i].Contains(c));
                    string groupKey = next + (last ? "\0last" : "");
                    if (!groups.TryGetValue(groupKey, out var g))
                        groups[groupKey] = g = [];
                    g.Add(i);
                }
                pending.Clear();
                if (groups.Count == 0)
                    break;
                var timeout = TimeSpan.FromMilliseconds(Math.Max(1, Math.Min(left, (long)options.AttemptTimeout.TotalMilliseconds)));
                var sends = new List<Task<List<int>>>();
                foreach (var (groupKey, group) in groups)
                {
                    bool last = groupKey.EndsWith("\0last", StringComparison.Ordinal);
                    var node = routing.Node(last ? groupKey[..^5] : groupKey);
                    foreach (var chunk in Chunks(group))
                        sends.Add(SendAsync(node, chunk, message(_nsBytes, chunk), timeout, abandonOnDown: _read && !last, moveOnIfUnavailable: !last));
                }
                foreach (var retry in await Task.WhenAll(sends).ConfigureAwait(false))
                    pending.AddRange(retry);
            }
            for (int i = 0; i < _results.Length; i++)
            {
                if (_sameAs[i] >= 0)
                    _results[i] = _results[_sameAs[i]];
            }
            return _results;
        }

        /// <summary>A node's group in messages of at most <see cref="BatchLimits.MaxMessageBytes"/> of values (a larger value travels alone).</summary>
        private IEnumerable<List<int>> Chunks(List<int> group)
        {
            var chunk = new List<int>();
            long bytes = 0;
            foreach (int i in group)
            {
                if (chunk.Count > 0 && bytes + _sizes[i] > BatchLimits.MaxMessageBytes)
                {
                    yield return chunk;
                    (chunk, bytes) = ([], 0);
                }
                chunk.Add(i);
                bytes += _sizes[i];
            }
            if (chunk.Count > 0)
                yield return chunk;
        }

        /// <summary>Sends one group to its node; sets the outcomes it gets and returns the keys to send on to their next node.</summary>
        private async Task<List<int>> SendAsync(ClientNode node, List<int> group, object message, TimeSpan timeout, bool abandonOnDown, bool moveOnIfUnavailable)
        {
            object reply;
            try
            {
                reply = await node.Router.Ask<object>(node.Wrap(message), timeout, abandonOnDown ? node.DownToken : CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
            {
                return group;
            }
            var retry = new List<int>();
            if (reply is KvManyReply many && many.Outcomes.Count == group.Count)
            {
                for (int j = 0; j < group.Count; j++)
                {
                    int i = group[j];
                    var result = Replies.Map(_ns, _keys[i], many.Outcomes[j]);
                    if (result is KvFailure { Error: KvUnavailableException } && moveOnIfUnavailable)
                        retry.Add(i);
                    else
                        _results[i] = result is KvFailure f ? f.Error : result;
                }
                return retry;
            }
            // Refused as a whole (or an answer that does not fit the request): every key gets it.
            var whole = Replies.Map(_ns, "", reply);
            if (whole is KvFailure { Error: KvUnavailableException } && moveOnIfUnavailable)
                return group;
            var error = whole is KvFailure failure ? failure.Error : new KvException($"unexpected reply {reply.GetType().Name} to a batch: {reply}");
            foreach (int i in group)
                _results[i] = error;
            return retry;
        }
    }
}
