using Akka.Actor;
using Akka.Event;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// Streams one partition to its next owner (a child of the vnode, one per transfer): waits for a
/// slot from the node's <see cref="VnodeManager"/> (at most Concurrency transfers per node), then
/// folds over a snapshot of the vnode's engine in key order, sending batches of about BatchBytes
/// to the target node's vnode manager and waiting for each acknowledgement (a lost or refused
/// batch is sent again from the same place after RetryDelay: the transfer resumes, it does not
/// restart), keeping under MaxBytesPerSecond. Then it sweeps the keys written since the transfer
/// began (the vnode forwards them as they come, this makes sure they arrived) until a sweep finds
/// none, and tells the vnode. Progress (keys, bytes, state) goes to the manager.
/// <para>
/// A fill (<c>fillFor</c> set) sends another partition's unsynced vnode the keys of this one that
/// belong to it (<c>filter</c>), in batches labelled with that partition, and tells the vnode
/// <see cref="FillFinished"/> after the fold (no sweep: new writes reach that replica anyway).
/// </para>
/// </summary>
public sealed class HandoffSender : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private const int MaxKeysPerBatch = 1000;
    private readonly int _partition;
    private readonly LsmEngine _engine;
    private readonly string _target;
    private readonly string _self;
    private readonly bool _sweepOnly;
    private readonly HandoffOptions _options;
    private readonly IActorRef _manager;
    private readonly int? _fillFor;
    private readonly Func<byte[], bool>? _filter;
    private Snapshot? _snapshot;
    private StorageIterator? _iterator;
    private bool _folding;
    private Queue<byte[]>? _sweep;
    private HandoffBatch? _inFlight;
    private long _seq;
    private long _keys;
    private long _bytes;
    private string? _lastError;
    private bool _slot;
    private readonly System.Diagnostics.Stopwatch _clock = new();
    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    // The one timer that watches the batch in flight: its acknowledgement timeout, or its resend after a refusal.
    private const string BatchTimer = "batch";

    private sealed record AckTimeout(long Seq);

    private sealed class SendNext
    {
        public static readonly SendNext Instance = new();
    }

    public HandoffSender(int partition, LsmEngine engine, string target, string self, bool sweepOnly, HandoffOptions options, IActorRef manager,
        int? fillFor = null, Func<byte[], bool>? filter = null)
    {
        (_partition, _engine, _target, _self, _sweepOnly, _options, _manager) = (partition, engine, target, self, sweepOnly, options, manager);
        (_fillFor, _filter) = (fillFor, filter);
        Receive<HandoffSlotGranted>(_ => OnSlot());
        Receive<HandoffBatchAck>(OnAck);
        Receive<AckTimeout>(t =>
        {
            if (_inFlight?.Seq == t.Seq)
                Retry($"batch {t.Seq} not acknowledged within {_options.AckTimeout.TotalSeconds:0} s");
        });
        Receive<SendNext>(_ => Next());
        Receive<DirtyKeys>(OnDirty);
        Receive<Resend>(OnResend);
    }

    protected override void PreStart()
    {
        if (_sweepOnly)
        {
            // A sweep is a few keys: it does not queue behind whole transfers.
            Self.Tell(HandoffSlotGranted.Instance, Self);
            return;
        }
        Report(HandoffState.Waiting);
        _manager.Tell(new RequestHandoffSlot(_partition), Self);
    }

    protected override void PostStop()
    {
        _iterator?.Dispose();
        _snapshot?.Dispose();
        if (_slot)
            _manager.Tell(new ReleaseHandoffSlot(_partition), Self);
        if (_fillFor is not null)
            Report(HandoffState.Done); // a fill's entry goes when it ends, finished or called off
    }

    /// <summary>Progress to the manager; a fill is shown as a transfer to the filling vnode ("node, filling partition q").</summary>
    private void Report(HandoffState state) =>
        _manager.Tell(new HandoffProgress(_partition, _fillFor is { } q ? $"{_target}, filling partition {q}" : _target, state, _keys, _bytes, _lastError), Self);

    private void OnSlot()
    {
        if (_slot)
            return;
        _slot = !_sweepOnly;
        _clock.Start();
        if (_sweepOnly)
        {
            Report(HandoffState.Sweeping);
            Context.Parent.Tell(TakeDirty.Instance, Self);
            return;
        }
        _snapshot = _engine.GetSnapshot();
        _iterator = _engine.NewIterator(new ReadOptions { Snapshot = _snapshot, FillCache = false });
        _iterator.SeekToFirst();
        _folding = true;
        Report(HandoffState.Sending);
        Next();
    }

    /// <summary>Builds and sends the next batch, or moves on to the sweep, or finishes.</summary>
    private void Next()
    {
        var items = new List<(byte[], byte[])>();
        long size = 0;
        if (_folding)
        {
            while (_iterator!.Valid && size < _options.BatchBytes && items.Count < MaxKeysPerBatch)
            {
                // The vnode's own records stay here (the tombstone index), except reaped clocks: they go
                // with the data, so that the receiver too drops the copies a reaped delete covered.
                bool reaped = VnodeMetaKeys.IsReaped(_iterator.Key) || VnodeMetaKeys.IsPaxos(_iterator.Key); // Paxos state goes too
                if (VnodeMetaKeys.IsMeta(_iterator.Key) && !reaped)
                {
                    _iterator.Next();
                    continue;
                }
                var key = _iterator.Key.ToArray();
                if (_filter is null || _filter(reaped ? VnodeMetaKeys.DataKey(key) : key))
                {
                    var item = (key, _iterator.Value.ToArray());
                    items.Add(item);
                    size += item.Item1.Length + item.Item2.Length;
                }
                _iterator.Next();
            }
            if (!_iterator.Valid)
            {
                _folding = false;
                _iterator.Dispose();
                _iterator = null;
                _snapshot!.Dispose();
                _snapshot = null;
            }
        }
        else if (_sweep is not null)
        {
            while (_sweep.Count > 0 && size < _options.BatchBytes && items.Count < MaxKeysPerBatch)
            {
                var key = _sweep.Dequeue();
                var value = _engine.Get(key);
                if (value is null)
                    continue;
                items.Add((key, value));
                size += key.Length + value.Length;
            }
        }
        if (items.Count > 0)
        {
            Send(new HandoffBatch(_fillFor ?? _partition, ++_seq, items, _self));
            return;
        }
        if (_fillFor is { } fillFor && !_folding)
        {
            Context.Parent.Tell(new FillFinished(fillFor, _target), Self);
            Context.Stop(Self);
            return;
        }
        if (_folding || _sweep is { Count: > 0 })
        {
            Self.Tell(SendNext.Instance, Self);
            return;
        }
        // Fold done (or sweep batch done): ask for what was written meanwhile.
        Report(HandoffState.Sweeping);
        Context.Parent.Tell(TakeDirty.Instance, Self);
    }

    private void OnDirty(DirtyKeys dirty)
    {
        if (dirty.Keys.Count == 0)
        {
            Metrics.KvMetrics.For(Context.System).HandoffFinished();
            Report(HandoffState.Done);
            Context.Parent.Tell(new HandoffFinished(_target, _sweepOnly), Self);
            Context.Stop(Self);
            return;
        }
        _sweep = new Queue<byte[]>(dirty.Keys);
        Next();
    }

    private void Send(HandoffBatch batch)
    {
        _inFlight = batch;
        KvPaths.On(Context.System, _target, KvPaths.VnodeManager).Tell(batch, Self);
        Timers.StartSingleTimer(BatchTimer, new AckTimeout(batch.Seq), _options.AckTimeout);
    }

    private void OnAck(HandoffBatchAck ack)
    {
        if (_inFlight is null || ack.Seq != _inFlight.Seq)
            return;
        if (ack.Error is not null)
        {
            Retry(ack.Error);
            return;
        }
        Timers.Cancel(BatchTimer);
        long batchBytes = _inFlight.Items.Sum(i => (long)i.Key.Length + i.Object.Length);
        _keys += _inFlight.Items.Count;
        _bytes += batchBytes;
        Metrics.KvMetrics.For(Context.System).HandedOff(_inFlight.Items.Count, batchBytes);
        _inFlight = null;
        _lastError = null;
        Report(_folding ? HandoffState.Sending : HandoffState.Sweeping);
        // Throttle: stay under MaxBytesPerSecond on average since the start.
        if (_options.MaxBytesPerSecond > 0)
        {
            var due = TimeSpan.FromSeconds((double)_bytes / _options.MaxBytesPerSecond) - _clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                Timers.StartSingleTimer(SendNext.Instance, SendNext.Instance, due);
                return;
            }
        }
        Next();
    }

    private void Retry(string error)
    {
        _lastError = error;
        Log.Warning($"handoff of partition {_partition} to {_target}: {error}; resending batch {_inFlight!.Seq} in {_options.RetryDelay.TotalMilliseconds:0} ms");
        Report(HandoffState.Failed);
        Timers.StartSingleTimer(BatchTimer, new Resend(_inFlight.Seq), _options.RetryDelay);
    }

    private void OnResend(Resend resend)
    {
        if (_inFlight?.Seq != resend.Seq)
            return; // a late acknowledgement arrived meanwhile
        Report(_folding ? HandoffState.Sending : HandoffState.Sweeping);
        Send(_inFlight);
    }

    private sealed record Resend(long Seq);
}
