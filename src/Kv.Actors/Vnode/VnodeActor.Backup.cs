using Akka.Actor;
using Kv.Actors.Backup;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// The vnode's part in backups: a <see cref="BackupRead"/> without a cursor takes a snapshot here
/// (a moment) and starts a <see cref="BackupCursor"/> child over it, which answers that read and the
/// later ones naming it; the vnode's mailbox is never held up by a backup. A vnode that has handed
/// its partition off forwards the read to the new owner; one still filling a partition it took over
/// without data, or on another ring size, refuses (the reader tries again, or elsewhere).
/// </summary>
public sealed partial class VnodeActor
{
    private const string BackupPrefix = "backup-";
    private readonly Dictionary<string, IActorRef> _backupCursors = new(StringComparer.Ordinal);

    /// <summary>A cursor has ended: it stops, and reads naming it get an error from here on.</summary>
    private void OnBackupCursorEnded(BackupCursor.Ended ended)
    {
        if (_backupCursors.Remove(ended.Name, out var cursor))
            Context.Stop(cursor);
    }

    private void OnBackupRead(BackupRead read)
    {
        if (Forwarding(read))
            return;
        if (read.Cursor is { } name)
        {
            if (_backupCursors.TryGetValue(name, out var cursor))
                cursor.Forward(read);
            else if (!read.Stop)
                Sender.Tell(new BackupChunk(_partition, name, [], true, BackupCursor.Gone(_partition, _self, name)), Self);
            return;
        }
        if (read.Stop)
            return;
        string? refusal = _engine is null ? $"vnode {_partition} on {_self} has handed its data off"
            : _filling is not null ? $"{BackupLimits.Unsynced}: vnode {_partition} on {_self} is still filling itself from its neighbours"
            : read.RingSize < 1 || (read.RingSize & (read.RingSize - 1)) != 0 ? $"bad ring size {read.RingSize}"
            : _ring is not null && _ring.Size != read.RingSize ? $"the ring has {_ring.Size} partitions, the backup asked for {read.RingSize}"
            : read.Partition != _partition ? $"vnode {_partition} asked for partition {read.Partition}"
            : null;
        if (refusal is not null)
        {
            Sender.Tell(new BackupChunk(_partition, "", [], true, refusal), Self);
            return;
        }
        Snapshot snapshot;
        try
        {
            snapshot = _engine!.GetSnapshot();
        }
        catch (ObjectDisposedException e)
        {
            Sender.Tell(new BackupChunk(_partition, "", [], true, e.Message), Self);
            return;
        }
        string cursorName = BackupPrefix + Guid.NewGuid().ToString("N");
        var (engine, partition, size) = (_engine!, _partition, read.RingSize);
        var child = Context.ActorOf(KvProps.Of(() => new BackupCursor(partition, size, engine, snapshot, cursorName)), cursorName);
        Context.Watch(child);
        _scans.Add(child); // stopped with the scans' cursors before the engine goes
        _backupCursors[cursorName] = child;
        child.Forward(read);
    }
}
