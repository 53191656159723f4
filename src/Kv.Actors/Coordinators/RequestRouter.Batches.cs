using Kv.Actors.Objects;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// Batches at the router: <see cref="KvGetMany"/> and <see cref="KvPutMany"/> are checked key by key
/// as single requests are (a key refused here gets its error as its outcome, the others go on), and
/// the keys that pass go to one <see cref="BatchCoordinator"/>; <see cref="ReplicaBatch"/>es from
/// other nodes' batch coordinators go to a <see cref="ReplicaBatchHandler"/> each.
/// </summary>
public sealed partial class RequestRouter
{
    private void ReceiveBatches()
    {
        Receive<KvGetMany>(OnGetMany);
        Receive<KvPutMany>(OnPutMany);
        Receive<ReplicaBatch>(b =>
        {
            var replyTo = Sender;
            Context.ActorOf(KvProps.Of(() => new ReplicaBatchHandler(b, replyTo)));
        });
    }

    /// <summary>Refuses a batch as a whole when it has no keys or too many; true when it may go on.</summary>
    private bool CheckBatchSize(int count)
    {
        if (count is > 0 and <= BatchLimits.MaxKeys)
            return true;
        Fail($"a batch takes 1..{BatchLimits.MaxKeys} keys (got {count})");
        return false;
    }

    private static string KeyOf(byte[] key) => Convert.ToBase64String(key);

    private void OnGetMany(KvGetMany m)
    {
        long toleranceMs = (long)_options.TtlClockSkewTolerance.TotalMilliseconds;
        if (!CheckBatchSize(m.Keys.Count))
            return;
        var outcomes = new object?[m.Keys.Count];
        var sameAs = new int[m.Keys.Count];
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var keys = new List<BatchKey>(m.Keys.Count);
        var timeout = TimeSpan.Zero;
        for (int i = 0; i < m.Keys.Count; i++)
        {
            byte[] key = m.Keys[i];
            // The same key twice is read once; both get its outcome.
            if (first.TryGetValue(KeyOf(key), out int earlier))
            {
                sameAs[i] = earlier;
                continue;
            }
            sameAs[i] = -1;
            first[KeyOf(key)] = i;
            var props = Check(m.Namespace, key, m.Options, out var failure);
            if (props is null)
            {
                _stats.Fail();
                outcomes[i] = failure;
                continue;
            }
            var primaries = Replicas(m.Namespace, key, props.NVal);
            int reachable = primaries.Count(r => Reachable(r.Node));
            if (reachable < props.PR)
            {
                _stats.Fail();
                outcomes[i] = new QuorumNotMet("get", reachable, props.PR, 0, 0, $"pr={props.PR} but only {reachable} primaries are reachable");
                continue;
            }
            var replicas = props.SloppyQuorum && reachable < primaries.Count ? Replicas(m.Namespace, key, props.NVal, sloppy: true) : primaries;
            _stats.Get();
            byte[] ns = m.Namespace;
            if (props.Timeout > timeout)
                timeout = props.Timeout;
            keys.Add(new BatchKey(i, replicas, (wrapped, replyTo) => KvProps.Of(() => new GetCoordinator(ns, key, wrapped, props, replyTo, toleranceMs))));
        }
        Start(outcomes, sameAs, keys, timeout, writes: false);
    }

    private void OnPutMany(KvPutMany m)
    {
        long toleranceMs = (long)_options.TtlClockSkewTolerance.TotalMilliseconds;
        if (!CheckBatchSize(m.Items.Count))
            return;
        var outcomes = new object?[m.Items.Count];
        var sameAs = new int[m.Items.Count];
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var keys = new List<BatchKey>(m.Items.Count);
        var timeout = TimeSpan.Zero;
        long now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        for (int i = 0; i < m.Items.Count; i++)
        {
            sameAs[i] = -1;
            var item = m.Items[i];
            var outcome = PlanWrite(m.Namespace, item, m.Options, i, first, out var props, out var replicas);
            if (outcome is not null)
            {
                _stats.Fail();
                outcomes[i] = outcome;
                continue;
            }
            var value = new Sibling(item.Value.Value, item.Value.ContentType, now, false);
            _stats.Put();
            byte[] ns = m.Namespace, key = item.Key;
            var context = item.Context;
            bool returnBody = m.Options.ReturnBody ?? false;
            var p = props!;
            if (p.Timeout > timeout)
                timeout = p.Timeout;
            keys.Add(new BatchKey(i, replicas!, (wrapped, replyTo) => KvProps.Of(() => new PutCoordinator(ns, key, context, value, wrapped, p, replyTo, returnBody, toleranceMs))));
        }
        Start(outcomes, sameAs, keys, timeout, writes: true);
    }

    /// <summary>
    /// The checks of a single put for one item of a batch, and its replicas with the coordinating
    /// vnode first: this node's, or (as for a put forwarded once) the first primary's. Null when it
    /// may go on, else its outcome.
    /// </summary>
    private object? PlanWrite(byte[] ns, KvPutManyItem item, RequestOptions options, int index, Dictionary<string, int> first,
        out NamespaceProps? props, out List<ReplicaRef>? replicas)
    {
        (props, replicas) = (null, null);
        if (first.TryGetValue(KeyOf(item.Key), out int earlier))
            return new RequestFailed($"the key is in the batch twice (first at {earlier}): write it once", FailureCode.InvalidRequest);
        first[KeyOf(item.Key)] = index;
        if (item.Value.Value.Length > _options.MaxObjectBytes)
            return new RequestFailed($"a value of {item.Value.Value.Length} bytes exceeds kv.max-object-size ({_options.MaxObjectBytes} bytes)", FailureCode.ValueTooLarge);
        if (item.Value.ContentType.Length > 255)
            return new RequestFailed("a content type must be at most 255 characters");
        props = Check(ns, item.Key, options, out var failure);
        if (props is null)
            return failure;
        if (props.Datatype != Crdt.Datatype.None)
            return new RequestFailed(DataTypeRouting.PutRefusal(System.Text.Encoding.UTF8.GetString(ns), props.Datatype), FailureCode.InvalidRequest);
        replicas = Replicas(ns, item.Key, props.NVal);
        int reachable = replicas.Count(r => Reachable(r.Node));
        if (reachable < props.PW)
            return new QuorumNotMet("put", reachable, props.PW, 0, 0, $"pw={props.PW} but only {reachable} primaries are reachable");
        if (props.SloppyQuorum && reachable < replicas.Count)
            replicas = Replicas(ns, item.Key, props.NVal, sloppy: true);
        if (!replicas.Any(r => !r.IsFallback))
            return new QuorumNotMet("put", 0, props.W, 0, props.DW, "no primary replica of the key is reachable to coordinate the write");
        int local = replicas.FindIndex(r => r.Node == _self && !r.IsFallback);
        if (local < 0)
            local = replicas.FindIndex(r => !r.IsFallback);
        if (local > 0)
            (replicas[0], replicas[local]) = (replicas[local], replicas[0]);
        return null;
    }

    private void Start(object?[] outcomes, int[] sameAs, List<BatchKey> keys, TimeSpan timeout, bool writes)
    {
        var replyTo = Sender;
        string self = _self;
        Context.ActorOf(KvProps.Of(() => new BatchCoordinator(outcomes, sameAs, keys, self, timeout, replyTo, writes)));
    }
}
