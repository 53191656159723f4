using Akka.Actor;
using Kv.Actors.Scans;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// The vnode's part in scans: a <see cref="VnodeScan"/> takes a snapshot here (a moment) and starts
/// a <see cref="ScanCursor"/> child that reads it and streams the chunks, so the vnode's mailbox is
/// never held up by a scan. A vnode that has handed its partition off forwards the request to the
/// new owner (during the grace period); one still filling a partition it took over without data
/// answers unsynced (the coordinator asks another replica); a vnode with no data answers an error.
/// </summary>
public sealed partial class VnodeActor
{
    private readonly HashSet<IActorRef> _scans = [];

    private void OnScan(VnodeScan scan)
    {
        if (Forwarding(scan))
            return;
        string? refusal = _engine is null ? $"vnode {_partition} on {_self} has handed its data off"
            : scan.RingSize < 1 || (scan.RingSize & (scan.RingSize - 1)) != 0 ? $"bad ring size {scan.RingSize}"
            : scan.Partitions.Count == 0 || scan.Partitions.Any(p => p < 0 || p >= scan.RingSize) ? "partitions outside the ring"
            : scan.ChunkKeys < 1 || scan.ChunkKeys > ScanLimits.ChunkKeys * 4 || scan.ChunkBytes < 1 || scan.ChunkBytes > ScanLimits.ChunkBytes * 4 ? "chunk size out of range"
            : scan.Namespace.Length is 0 or > 255 ? "bad namespace"
            : null;
        if (refusal is not null || _filling is not null)
        {
            Sender.Tell(new VnodeScanChunk(scan.ScanId, _partition, [], true, Unsynced: refusal is null, refusal), Self);
            return;
        }
        Snapshot snapshot;
        try
        {
            snapshot = _engine!.GetSnapshot();
        }
        catch (ObjectDisposedException e)
        {
            Sender.Tell(new VnodeScanChunk(scan.ScanId, _partition, [], true, false, e.Message), Self);
            return;
        }
        var (engine, partition, coordinator) = (_engine!, _partition, Sender);
        var cursor = Context.ActorOf(KvProps.Of(() => new ScanCursor(scan, partition, engine, snapshot, coordinator)), "scan-" + Guid.NewGuid().ToString("N")[..8]);
        Context.Watch(cursor);
        _scans.Add(cursor);
    }

    /// <summary>Before the engine goes: the cursors reading it stop (their coordinators plan again elsewhere).</summary>
    private void StopScans()
    {
        foreach (var cursor in _scans)
            Context.Stop(cursor);
        _scans.Clear();
    }
}
