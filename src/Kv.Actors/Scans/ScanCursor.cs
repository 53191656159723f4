using Akka.Actor;
using Akka.Event;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Storage;

namespace Kv.Actors.Scans;

/// <summary>
/// One vnode's part of a scan (a child of the vnode, one per <see cref="VnodeScan"/>): reads a
/// snapshot the vnode took when asked, in key order within the scan's bounds, keeping the keys of
/// the partitions asked for, and sends them to the coordinator a chunk at a time (at most ChunkKeys
/// keys, about ChunkBytes bytes, ExaminePerChunk keys read), the next one only when the coordinator
/// asks for it (backpressure). The reading happens here, never in the vnode's mailbox: the vnode
/// goes on serving. Ends after the last chunk, when told to stop, when its coordinator stops, when
/// not asked for <see cref="ScanLimits.CursorIdle"/>, or with the vnode; the snapshot is released then.
/// </summary>
public sealed class ScanCursor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private readonly VnodeScan _scan;
    private readonly int _partition;
    private readonly LsmEngine _engine;
    private readonly Snapshot _snapshot;
    private readonly IActorRef _coordinator;
    private readonly HashSet<int> _partitions;
    private StorageIterator? _iterator;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Idle
    {
        public static readonly Idle Instance = new();
    }

    public ScanCursor(VnodeScan scan, int partition, LsmEngine engine, Snapshot snapshot, IActorRef coordinator)
    {
        (_scan, _partition, _engine, _snapshot, _coordinator) = (scan, partition, engine, snapshot, coordinator);
        _partitions = scan.Partitions.ToHashSet();
        Receive<VnodeScanNext>(next =>
        {
            if (next.ScanId != _scan.ScanId)
                return;
            if (next.Stop)
                Context.Stop(Self);
            else
                SendChunk();
        });
        Receive<Idle>(_ => Context.Stop(Self));
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_coordinator))
                Context.Stop(Self); // the page is done (or its node is gone): nobody will ask again
        });
    }

    protected override void PreStart()
    {
        Context.Watch(_coordinator);
        Self.Tell(new VnodeScanNext(_scan.ScanId, false), Self); // the first chunk unasked
    }

    protected override void PostStop()
    {
        try
        {
            _iterator?.Dispose();
            _snapshot.Dispose();
        }
        catch (ObjectDisposedException)
        {
            // The vnode retired and closed its engine: the snapshot went with it.
        }
    }

    private void SendChunk()
    {
        var items = new List<ScanEntry>();
        bool done;
        try
        {
            if (_iterator is null)
            {
                _iterator = _engine.NewIterator(new ReadOptions { Snapshot = _snapshot, LowerBound = _scan.Lower, UpperBound = _scan.Upper, FillCache = false });
                _iterator.SeekToFirst();
            }
            long bytes = 0;
            int examined = 0;
            while (_iterator.Valid && items.Count < _scan.ChunkKeys && bytes < _scan.ChunkBytes && examined < ScanLimits.ExaminePerChunk)
            {
                examined++;
                var storageKey = _iterator.Key.ToArray();
                if (ScanRange.KeyOf(storageKey, _scan.Namespace) is { } key && _partitions.Contains(KeyHash.PartitionOf(_scan.Namespace, key, _scan.RingSize)))
                {
                    var value = _iterator.Value;
                    KvObjectCodec.Validate(value);
                    items.Add(new ScanEntry(key, value.ToArray()));
                    bytes += key.Length + value.Length;
                }
                _iterator.Next();
            }
            done = !_iterator.Valid;
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log.Warning($"vnode {_partition}: scan {_scan.ScanId} failed: {e.Message}");
            _coordinator.Tell(new VnodeScanChunk(_scan.ScanId, _partition, [], true, false, $"vnode {_partition}: {e.Message}"), Self);
            Context.Stop(Self);
            return;
        }
        _coordinator.Tell(new VnodeScanChunk(_scan.ScanId, _partition, items, done, false, null), Self);
        if (done)
            Context.Stop(Self);
        else
            Timers.StartSingleTimer(Idle.Instance, Idle.Instance, ScanLimits.CursorIdle);
    }
}
