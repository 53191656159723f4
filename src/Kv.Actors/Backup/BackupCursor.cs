using Akka.Actor;
using Akka.Event;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using Kv.Storage;

namespace Kv.Actors.Backup;

/// <summary>
/// One partition's backup on its vnode (a child of the vnode, one per backup, stopped by it): reads the snapshot
/// the vnode took when asked, in key order, keeping the data keys whose own partition is the
/// vnode's, and answers each <see cref="BackupRead"/> with the next page. The reading happens here,
/// never in the vnode's mailbox. Ends after the last page, when told to stop, when not asked for
/// <see cref="BackupLimits.CursorIdle"/>, or with the vnode; the snapshot is released then.
/// </summary>
public sealed class BackupCursor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private readonly int _partition;
    private readonly int _ringSize;
    private readonly LsmEngine _engine;
    private readonly Snapshot _snapshot;
    private readonly string _name;
    private StorageIterator? _iterator;
    private bool _ended;

    /// <summary>
    /// To the vnode: this cursor has ended (last page, stop, idle, error). The vnode stops it and
    /// forgets its name; until then the cursor answers every read with an error, so no read is lost
    /// to a cursor that is stopping.
    /// </summary>
    public sealed record Ended(string Name);

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Idle
    {
        public static readonly Idle Instance = new();
    }

    public BackupCursor(int partition, int ringSize, LsmEngine engine, Snapshot snapshot, string name)
    {
        (_partition, _ringSize, _engine, _snapshot, _name) = (partition, ringSize, engine, snapshot, name);
        Receive<BackupRead>(OnRead);
        Receive<Idle>(_ => End());
    }

    protected override void PreStart() => Timers.StartSingleTimer(Idle.Instance, Idle.Instance, BackupLimits.CursorIdle);

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

    /// <summary>The error of a read naming a cursor that has ended (the vnode answers the same once it is gone).</summary>
    public static string Gone(int partition, string node, string name) => $"vnode {partition} on {node}: no backup cursor {name} (it ended, or was idle too long)";

    private void End()
    {
        if (_ended)
            return;
        _ended = true;
        Timers.CancelAll();
        Context.Parent.Tell(new Ended(_name), Self);
    }

    private void OnRead(BackupRead read)
    {
        if (_ended)
        {
            if (!read.Stop)
                Sender.Tell(new BackupChunk(_partition, _name, [], true, Gone(_partition, Self.Path.Address.ToString(), _name)), Self);
            return;
        }
        if (read.Stop)
        {
            End();
            return;
        }
        int maxKeys = Math.Clamp(read.MaxKeys, 1, BackupLimits.MaxPageKeys);
        int maxBytes = Math.Clamp(read.MaxBytes, 1, BackupLimits.MaxPageBytes);
        var items = new List<BackupEntry>();
        bool done;
        try
        {
            if (_iterator is null)
            {
                // Data keys start with their namespace's length, at most 255 (a first byte of 0); the vnode's own records start with 0xFF.
                _iterator = _engine.NewIterator(new ReadOptions { Snapshot = _snapshot, UpperBound = [0x01], FillCache = false });
                _iterator.SeekToFirst();
            }
            long bytes = 0;
            int examined = 0;
            while (_iterator.Valid && items.Count < maxKeys && bytes < maxBytes && examined < BackupLimits.ExaminePerPage)
            {
                examined++;
                var storageKey = _iterator.Key.ToArray();
                if (!VnodeMetaKeys.IsMeta(storageKey) && VnodeActor.SplitStorageKey(storageKey) is { Ns.Length: > 0, Key.Length: > 0 } split
                    && KeyHash.PartitionOf(split.Ns, split.Key, _ringSize) == _partition)
                {
                    var value = _iterator.Value;
                    KvObjectCodec.Validate(value);
                    items.Add(new BackupEntry(split.Ns, split.Key, value.ToArray()));
                    bytes += storageKey.Length + value.Length;
                }
                _iterator.Next();
            }
            done = !_iterator.Valid;
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log.Warning($"vnode {_partition}: backup read failed: {e.Message}");
            Sender.Tell(new BackupChunk(_partition, _name, [], true, $"vnode {_partition}: {e.Message}"), Self);
            End();
            return;
        }
        Sender.Tell(new BackupChunk(_partition, _name, items, done, null), Self);
        if (done)
            End();
        else
            Timers.StartSingleTimer(Idle.Instance, Idle.Instance, BackupLimits.CursorIdle);
    }
}
