using Akka.Actor;
using Kv.Actors.Backup;

namespace Kv.Actors.Coordinators;

/// <summary>
/// Backup and restore at the router: a <see cref="BackupRead"/> for a partition this node owns goes
/// to its vnode (which answers the reader directly); for any other partition the answer is an error
/// naming the owner. A <see cref="KvMergeMany"/> (restore) is checked key by key as a batch write
/// is, and the keys that pass go to one <see cref="BatchCoordinator"/> of <see cref="MergeCoordinator"/>s.
/// </summary>
public sealed partial class RequestRouter
{
    private void ReceiveBackup()
    {
        Receive<BackupRead>(OnBackupRead);
        Receive<KvMergeMany>(OnMergeMany);
    }

    private void OnBackupRead(BackupRead read)
    {
        string? refusal = KnownRing is null ? "no ring yet: the cluster has not finished forming"
            : read.RingSize != KnownRing.Size ? $"the ring has {KnownRing.Size} partitions, the backup asked for {read.RingSize}"
            : read.Partition < 0 || read.Partition >= KnownRing.Size ? $"partition {read.Partition} is outside the ring"
            : read.Cursor is null && KnownRing.Owners[read.Partition] != _self ? $"partition {read.Partition} is owned by {KnownRing.Owners[read.Partition]}, not {_self}"
            : null;
        if (refusal is not null)
        {
            Sender.Tell(new BackupChunk(read.Partition, read.Cursor ?? "", [], true, refusal), Self);
            return;
        }
        VnodeRef(_self, read.Partition).Tell(read, Sender);
    }

    private void OnMergeMany(KvMergeMany m)
    {
        if (!CheckBatchSize(m.Items.Count))
            return;
        var outcomes = new object?[m.Items.Count];
        var sameAs = new int[m.Items.Count];
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var keys = new List<BatchKey>(m.Items.Count);
        var timeout = TimeSpan.Zero;
        for (int i = 0; i < m.Items.Count; i++)
        {
            sameAs[i] = -1;
            var item = m.Items[i];
            var outcome = PlanMerge(m.Namespace, item, m.Options, i, first, out var props, out var replicas);
            if (outcome is not null)
            {
                _stats.Fail();
                outcomes[i] = outcome;
                continue;
            }
            _stats.Put();
            byte[] ns = m.Namespace, key = item.Key;
            var obj = item.Object;
            var p = props!;
            if (p.Timeout > timeout)
                timeout = p.Timeout;
            keys.Add(new BatchKey(i, replicas!, (wrapped, replyTo) => KvProps.Of(() => new MergeCoordinator(ns, key, obj, wrapped, p, replyTo))));
        }
        // Not "writes": a merge sends to every replica at its start, as a read asks them all.
        Start(outcomes, sameAs, keys, timeout, writes: false);
    }

    /// <summary>The checks of one merged object: the key and namespace, each value's size, the primaries reachable for PW; its replicas (with fallbacks for a sloppy quorum).</summary>
    private object? PlanMerge(byte[] ns, KvMergeItem item, RequestOptions options, int index, Dictionary<string, int> first,
        out NamespaceProps? props, out List<ReplicaRef>? replicas)
    {
        (props, replicas) = (null, null);
        if (first.TryGetValue(KeyOf(item.Key), out int earlier))
            return new RequestFailed($"the key is in the batch twice (first at {earlier}): merge it once", FailureCode.InvalidRequest);
        first[KeyOf(item.Key)] = index;
        foreach (var value in item.Object.Values)
        {
            if (value.Value.Length > _options.MaxObjectBytes)
                return new RequestFailed($"a value of {value.Value.Length} bytes exceeds kv.max-object-size ({_options.MaxObjectBytes} bytes)", FailureCode.ValueTooLarge);
        }
        props = Check(ns, item.Key, options, out var failure);
        if (props is null)
            return failure;
        replicas = Replicas(ns, item.Key, props.NVal);
        int reachable = replicas.Count(r => Reachable(r.Node));
        if (reachable < props.PW)
            return new QuorumNotMet("put", reachable, props.PW, 0, 0, $"pw={props.PW} but only {reachable} primaries are reachable");
        if (props.SloppyQuorum && reachable < replicas.Count)
            replicas = Replicas(ns, item.Key, props.NVal, sloppy: true);
        return null;
    }
}
