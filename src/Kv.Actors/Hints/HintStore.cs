using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using static Akka.Cluster.ClusterEvent;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Hints;

/// <summary>
/// The node's hint store (at /user/kv-hints), a persistent actor on Akka.Persistence (journal and
/// snapshots on Kv.Storage: <see cref="Persistence.KvJournal"/>). When a key's primary is away, a
/// put coordinator sends the new version to the next node clockwise (a fallback, Riak's sloppy
/// quorum); here it becomes a hint for (partition, primary), answered durable once it is in the
/// journal. Every <see cref="HintOptions.DeliveryInterval"/> the store sends a batch of each
/// target's oldest hints (one batch in flight per target) to their partitions' current owners
/// that are Up, reachable members (the target once it is back), as durable applies; a hint is deleted only when that vnode answers
/// that the merge is durable. A fallback answers reads of what it holds for a key; its not-found
/// abstains. Hints for a target past its window (away longer than
/// <see cref="HintOptions.Window"/>) or its size cap are refused and counted; anti-entropy repairs.
/// </summary>
public sealed class HintStore : ReceivePersistentActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _self;
    private readonly HintOptions _options;
    private readonly SortedDictionary<long, HintAdded> _hints = [];
    private readonly Dictionary<string, TargetState> _targets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<long>> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<long, (long HintId, string Target, long SentAt)> _inFlight = [];
    private readonly Dictionary<string, long> _awaySince = new(StringComparer.Ordinal);
    private Ring.Ring? _ring;
    private int _eventsSinceSnapshot;
    private readonly Metrics.KvMetrics _metrics = Metrics.KvMetrics.For(Context.System);

    /// <summary>Akka's actor timers.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class TargetState
    {
        public long Count;
        public long Bytes;
        public long Persisting; // bytes of hints accepted and still being written
        public long Dropped;
        public long Delivered;
        public int InFlight;
    }

    private sealed class Deliver
    {
        public static readonly Deliver Instance = new();
    }

    public HintStore(string selfNode, HintOptions options)
    {
        (_self, _options) = (selfNode, options);
        JournalPluginId = Persistence.KvPersistenceStorage.JournalId;
        SnapshotPluginId = Persistence.KvPersistenceStorage.SnapshotStoreId;
        Recover<HintAdded>(e => Add(LastSequenceNr, e));
        Recover<HintsDelivered>(e => Remove(e.Ids, counted: true));
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is HintSnapshot s)
            {
                foreach (var h in s.Hints)
                    Add(h.Id, h.Hint);
                foreach (var (t, n) in s.Dropped)
                    Target(t).Dropped = n;
                foreach (var (t, n) in s.Delivered)
                    Target(t).Delivered = n;
            }
        });
        Recover<RecoveryCompleted>(_ =>
        {
            Held();
            _log.Info($"hint store: {_hints.Count} hints for {_targets.Count(t => t.Value.Count > 0)} targets recovered");
        });

        Command<HintApply>(OnHintApply);
        Command<HintGet>(OnHintGet);
        Command<VnodePutReply>(OnDelivered);
        Command<Deliver>(_ => OnDeliver());
        Command<GetHintStatus>(_ => Sender.Tell(Status(), Self));
        Command<RingChanged>(m =>
        {
            if (_ring is null || m.Ring.Supersedes(_ring))
                _ring = m.Ring;
        });
        Command<CurrentRing>(m =>
        {
            if (m.Ring is not null && (_ring is null || m.Ring.Supersedes(_ring)))
                _ring = m.Ring;
        });
        // (Block bodies: a lambda returning bool would be Akka's "handled?" overload.)
        Command<UnreachableMember>(m => { _awaySince.TryAdd(m.Member.Address.ToString(), Now); });
        Command<MemberRemoved>(m => { _awaySince.TryAdd(m.Member.Address.ToString(), Now); });
        Command<ReachableMember>(m => { _awaySince.Remove(m.Member.Address.ToString()); });
        Command<MemberUp>(m => { _awaySince.Remove(m.Member.Address.ToString()); });
        Command<IClusterDomainEvent>(_ => { });
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f => _log.Warning($"hint store: snapshot failed: {f.Cause.Message}"));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning($"hint store: deleting journal events failed: {f.Cause.Message}"));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning($"hint store: deleting old snapshots failed: {f.Cause.Message}"));
    }

    public override string PersistenceId => "kv-hints";

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    protected override void PreStart()
    {
        base.PreStart();
        Context.System.EventStream.Subscribe(Self, typeof(RingChanged));
        Context.System.ActorSelection("/user/" + KvPaths.RingManager).Tell(GetRing.Instance, Self);
        ClusterExt.Get(Context.System).Subscribe(Self, InitialStateAsEvents, typeof(IMemberEvent), typeof(IReachabilityEvent));
        Timers.StartPeriodicTimer(Deliver.Instance, Deliver.Instance, _options.DeliveryInterval);
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        ClusterExt.Get(Context.System).Unsubscribe(Self);
        base.PostStop();
    }

    private TargetState Target(string target)
    {
        if (!_targets.TryGetValue(target, out var t))
            _targets[target] = t = new TargetState();
        return t;
    }

    private static string KeyOf(int partition, byte[] ns, byte[] key) => $"{partition}:{Convert.ToHexString(ns)}:{Convert.ToHexString(key)}";

    private void Add(long id, HintAdded hint)
    {
        _hints[id] = hint;
        var t = Target(hint.Target);
        t.Count++;
        t.Bytes += hint.Object.Length + hint.Key.Length;
        string k = KeyOf(hint.Partition, hint.Namespace, hint.Key);
        if (!_byKey.TryGetValue(k, out var ids))
            _byKey[k] = ids = [];
        ids.Add(id);
        Held();
    }

    /// <summary>Tells the node's metrics what the store holds now.</summary>
    private void Held()
    {
        long bytes = 0;
        foreach (var t in _targets.Values)
            bytes += t.Bytes;
        _metrics.HintsHeld(_hints.Count, bytes);
    }

    private void Remove(IEnumerable<long> ids, bool counted)
    {
        foreach (long id in ids)
        {
            if (!_hints.Remove(id, out var hint))
                continue;
            var t = Target(hint.Target);
            t.Count--;
            t.Bytes -= hint.Object.Length + hint.Key.Length;
            if (counted)
                t.Delivered++;
            string k = KeyOf(hint.Partition, hint.Namespace, hint.Key);
            if (_byKey.TryGetValue(k, out var list) && list.Remove(id) && list.Count == 0)
                _byKey.Remove(k);
        }
        Held();
    }

    private bool WindowPassed(string target) => _awaySince.TryGetValue(target, out long since) && Now - since > _options.Window.TotalMilliseconds;

    private void OnHintApply(HintApply apply)
    {
        var sender = Sender;
        var t = Target(apply.Target);
        _awaySince.TryAdd(apply.Target, Now); // the coordinator saw it away; so do we, from now at the latest
        var encoded = KvObjectCodec.Encode(apply.Object);
        long size = encoded.Length + apply.Key.Length;
        string? refused = WindowPassed(apply.Target)
            ? $"hint for {apply.Target} dropped: away longer than the hint window ({_options.Window})"
            : t.Bytes + t.Persisting + size > _options.MaxBytesPerTarget
                ? $"hint for {apply.Target} dropped: {t.Bytes + t.Persisting} bytes of hints held for it, {size} more would pass the cap ({_options.MaxBytesPerTarget})"
                : null;
        if (refused is not null)
        {
            t.Dropped++;
            _metrics.HintDropped();
            sender.Tell(new VnodePutReply(apply.Partition, apply.RequestId, null, false, refused), Self);
            return;
        }
        var hint = new HintAdded(apply.Target, apply.Partition, apply.Namespace, apply.Key, encoded, Now);
        t.Persisting += size;
        PersistAsync(hint, e =>
        {
            t.Persisting -= size;
            Add(LastSequenceNr, e);
            _metrics.HintQueued();
            sender.Tell(new VnodePutReply(apply.Partition, apply.RequestId, null, Durable: true, null), Self);
            MaybeSnapshot();
        });
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // The actor stops after this (Akka); its supervisor starts it again and it recovers from the journal.
        _log.Error(cause, $"hint store: journal write failed: {cause.Message}");
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, $"hint store: journal refused an event: {cause.Message}");
        if (@event is HintAdded h)
        {
            Target(h.Target).Dropped++;
            _metrics.HintDropped();
        }
    }

    private void MaybeSnapshot()
    {
        if (++_eventsSinceSnapshot < _options.SnapshotEvery)
            return;
        _eventsSinceSnapshot = 0;
        SaveSnapshot(new HintSnapshot(
            _hints.Select(h => new StoredHint(h.Key, h.Value)).ToList(),
            _targets.ToDictionary(t => t.Key, t => t.Value.Dropped),
            _targets.ToDictionary(t => t.Key, t => t.Value.Delivered)));
    }

    private void OnHintGet(HintGet get)
    {
        DvvSet<Sibling>? merged = null;
        if (_byKey.TryGetValue(KeyOf(get.Partition, get.Namespace, get.Key), out var ids))
        {
            foreach (long id in ids)
            {
                var o = KvObjectCodec.Decode(_hints[id].Object);
                merged = merged is null ? o : DvvSet<Sibling>.Sync(merged, o);
            }
        }
        Sender.Tell(new VnodeGetReply(get.Partition, get.RequestId, merged, null) { Unsynced = merged is null }, Self);
    }

    private bool Back(string node)
    {
        var state = ClusterExt.Get(Context.System).State;
        return state.Members.Any(m => m.Address.ToString() == node && m.Status is MemberStatus.Up or MemberStatus.Leaving)
            && !state.Unreachable.Any(m => m.Address.ToString() == node);
    }

    private void OnDeliver()
    {
        long now = Now;
        foreach (var (requestId, f) in _inFlight.Where(f => now - f.Value.SentAt > _options.AckTimeout.TotalMilliseconds).ToList())
        {
            _inFlight.Remove(requestId);
            Target(f.Target).InFlight--;
        }
        if (_hints.Count == 0 || _ring is null)
            return;
        var sending = _inFlight.Values.Select(f => f.HintId).ToHashSet();
        var back = new Dictionary<string, bool>(StringComparer.Ordinal);
        bool IsBack(string node) => back.TryGetValue(node, out bool b) ? b : back[node] = Back(node);
        foreach (var (target, t) in _targets)
        {
            if (t.Count == 0 || t.InFlight > 0)
                continue;
            int sent = 0;
            foreach (var (id, hint) in _hints)
            {
                if (sent >= _options.BatchSize)
                    break;
                if (hint.Target != target || sending.Contains(id) || hint.Partition >= _ring.Size)
                    continue;
                // To whoever owns the partition now: the target itself when it is back, or the node
                // a claim gave the partition to meanwhile.
                string owner = _ring.Owners[hint.Partition];
                if (!IsBack(owner))
                    continue;
                long requestId = Random.Shared.NextInt64(1, long.MaxValue);
                _inFlight[requestId] = (id, target, now);
                t.InFlight++;
                sent++;
                KvPaths.Vnode(Context.System, owner, hint.Partition)
                    .Tell(new VnodeApply(hint.Namespace, hint.Key, KvObjectCodec.Decode(hint.Object), Durable: true, requestId), Self);
            }
        }
    }

    private void OnDelivered(VnodePutReply reply)
    {
        if (!_inFlight.Remove(reply.RequestId, out var f))
            return;
        Target(f.Target).InFlight--;
        if (reply.Error is not null || !reply.Durable)
        {
            _log.Warning($"hint store: hint for partition {reply.Partition} on {f.Target} not delivered: {reply.Error ?? "not durable"}; sending it again later");
            return;
        }
        if (!_hints.ContainsKey(f.HintId))
            return;
        Remove([f.HintId], counted: true);
        _metrics.HintsDelivered(1);
        PersistAsync(new HintsDelivered([f.HintId]), _ => MaybeSnapshot());
    }

    private HintStatus Status()
    {
        long now = Now;
        var oldest = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var h in _hints.Values)
        {
            if (!oldest.TryGetValue(h.Target, out long at) || h.AtMs < at)
                oldest[h.Target] = h.AtMs;
        }
        var targets = _targets
            .Where(t => t.Value.Count > 0 || t.Value.Dropped > 0 || t.Value.Delivered > 0)
            .OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => new HintTargetStatus(t.Key, t.Value.Count, t.Value.Bytes, oldest.TryGetValue(t.Key, out long at) ? now - at : 0,
                WindowPassed(t.Key) ? "window passed" : t.Value.Count == 0 ? "empty" : Back(t.Key) ? "delivering" : "waiting", t.Value.Dropped, t.Value.Delivered))
            .ToList();
        return new HintStatus(_self, targets);
    }
}
