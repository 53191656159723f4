using System.Buffers.Binary;
using Kv.Actors.Aae;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Akka.Actor;
using Akka.Event;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// One partition's replica on this node: owns a Kv.Storage engine in its own directory (sharing the
/// node's cache, memtable budget and background threads through the environment), and an identity
/// used in dots that is new whenever the directory is new, so a vnode that lost its data never
/// reuses old dots. Serves get, coordinated put, apply (merge by DVV sync) and reap. Writes are
/// awaited inside the actor, so operations on one vnode keep their order.
/// <para>
/// A coordinated put answers twice, as Riak's vnodes answer w then dw: the new version at once, so
/// that the coordinator sends it to the other replicas while this one commits it, then the durable
/// acknowledgement. A dot can therefore leave before it is durable here, and must never be issued
/// again: a coordinated write that fails takes the vnode a new identity, and so does a start after
/// a stop that was not clean (the clean-stop mark is written only after the engine closed with no
/// such write in flight, and removed, durably, before the first dot of the next run).
/// </para>
/// <para>
/// Ownership handoff: when the ring's pending owner of the partition is another node, a
/// <see cref="HandoffSender"/> child streams the data there while this vnode keeps serving;
/// writes that arrive meanwhile are forwarded and remembered, and swept again at the end. When
/// the owner (this node) finished, it reports the transfer to the claimant; once the ring shows
/// the new owner, the vnode sweeps the last writes, deletes its data and forwards requests from
/// nodes with an older ring for a grace period.
/// </para>
/// </summary>
public sealed partial class VnodeActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private const string IdFile = "VNODE_ID";
    private const string CleanFile = "VNODE_CLEAN";
    private const string UnsyncedFile = "VNODE_UNSYNCED";

    /// <summary>Start of the error a write gets when it would exceed the sibling limit.</summary>
    public const string TooManySiblings = "too many siblings";
    private readonly int _partition;
    private readonly string _directory;
    private readonly StorageOptions _options;
    private readonly string _self;
    private readonly HandoffOptions _handoff;
    private LsmEngine? _engine;
    private KeyEpochs? _epochs;
    private Ring.Ring? _ring;
    private string? _target;
    private IActorRef? _sender;
    private string? _transferredTo;
    private bool _sweeping;
    private HashSet<byte[]> _dirty = new(ByteArrayComparer.Instance);
    private ActorSelection? _forwardTo; // the new owner's vnode, after the handoff
    private int _dotsInFlight; // coordinated writes answered but not yet durable
    // Writes sent to the engine and not yet committed, by key: the newest version, which reads and
    // later writes of the key see, and how many of the key's writes are still out.
    private readonly Dictionary<byte[], PendingWrite> _pending = new(ByteArrayComparer.Instance);
    private bool _retireWhenDrained;
    private bool _awaitingSeen; // swept, waiting for every member to see the switch before retiring
    private bool _identityDirty; // a new identity could not be stored: no clean-stop mark
    // Unsynced: the partition was taken over without the previous owner's data (the ring lists it
    // as lost) and this vnode started empty; not null while it is (the neighbours still to send).
    private readonly Func<string, int> _nValOf;
    private readonly int _maxNVal;
    private bool _freshStart;
    private bool _dataLost; // the node's data was lost or wiped: a fresh vnode it owns is unsynced
    private bool _syncDecided;
    private HashSet<int>? _filling;
    private readonly Dictionary<(int For, string Node), IActorRef> _fills = [];
    private readonly ReapingOptions _reaping;
    private bool _anyReaped; // some reaped clock is stored: incoming objects are checked against it
    private readonly Dictionary<byte[], (long Next, long Delay)> _reapAttempts = new(ByteArrayComparer.Instance);
    // Active anti-entropy: the trees (null until the first build is done), the build under way
    // (trees, and the keys written since its snapshot, fixed up when it ends).
    private readonly AaeOptions _aae;
    private VnodeTrees? _trees;
    private VnodeTrees? _building;
    private HashSet<byte[]>? _buildDirty;
    private bool _buildAsked;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class FillTick
    {
        public static readonly FillTick Instance = new();
    }

    private sealed class SweepTombstones
    {
        public static readonly SweepTombstones Instance = new();
    }

    private sealed class RebuildTrees
    {
        public static readonly RebuildTrees Instance = new();
    }

    /// <summary>A tree build's end: the trees from the snapshot (Error: it failed).</summary>
    private sealed record TreesBuilt(VnodeTrees Trees, Snapshot Snapshot, Exception? Error);

    public VnodeActor(int partition, string directory, StorageOptions options, string selfNode, HandoffOptions? handoff = null,
        ReapingOptions? reaping = null, Func<string, int>? nValOf = null, int maxNVal = 3, AaeOptions? aae = null)
    {
        _aae = aae ?? new AaeOptions();
        _reaping = reaping ?? ReapingOptions.Default;
        _nValOf = nValOf ?? (_ => 3);
        _maxNVal = maxNVal;
        _partition = partition;
        _directory = directory;
        _options = options;
        _self = selfNode;
        _handoff = handoff ?? new HandoffOptions();
        // Synchronous: an async handler suspends the mailbox and runs the read as a task on the actor's
        // task scheduler (a task, its continuation and a resume per read), which a read that never awaits does not need.
        Receive<VnodeGet>(OnGet);
        Receive<VnodeCoordinatePut>(OnCoordinatePut);
        Receive<VnodeApply>(OnApply);
        Receive<VnodeCoordinateUpdate>(OnCoordinateUpdate);
        Receive<WriteDone>(OnWriteDone);
        Receive<SyncDone>(d => d.Then(d.Error));
        ReceiveAsync<VnodeReap>(OnReap);
        ReceiveAsync<HandoffBatch>(OnHandoffBatch);
        Receive<RingChanged>(m =>
        {
            _dataLost |= m.DataLost;
            OnRing(m.Ring);
        });
        Receive<CurrentRing>(m =>
        {
            if (m.Ring is not null)
                OnRing(m.Ring);
        });
        Receive<TakeDirty>(_ => OnTakeDirty());
        Receive<HandoffFinished>(OnHandoffFinished);
        Receive<FillRequest>(OnFillRequest);
        Receive<FillFinished>(OnFillFinished);
        Receive<FillDone>(OnFillDone);
        Receive<FillTick>(_ => AskFill());
        Receive<SweepTombstones>(_ => OnSweepTombstones());
        Receive<RebuildTrees>(_ => AskToBuild());
        Receive<BuildSlotGranted>(_ => StartBuild());
        Receive<TreesBuilt>(OnTreesBuilt);
        Receive<AaeTreeRequest>(OnTreeRequest);
        Receive<TablesRepaired>(OnTablesRepaired);
        Receive<Scrub>(_ => StartScrub());
        Receive<Scans.VnodeScan>(OnScan);
        ReceivePaxos();
        Receive<Backup.BackupRead>(OnBackupRead);
        Receive<Backup.BackupCursor.Ended>(OnBackupCursorEnded);
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_sender))
                _sender = null;
            _scans.Remove(t.ActorRef);
            foreach (var name in _backupCursors.Where(c => c.Value.Equals(t.ActorRef)).Select(c => c.Key).ToList())
                _backupCursors.Remove(name);
            foreach (var (fill, sender) in _fills.Where(f => f.Value.Equals(t.ActorRef)).ToList())
                _fills.Remove(fill);
        });
    }

    /// <summary>This replica's identity; its dots are written as "{VnodeId}.{epoch}" (see <see cref="KeyEpochs"/>).</summary>
    public string VnodeId { get; private set; } = "";

    protected override void PreStart()
    {
        Directory.CreateDirectory(_directory);
        string idPath = Path.Combine(_directory, IdFile);
        string cleanPath = Path.Combine(_directory, CleanFile);
        bool fresh = !File.Exists(idPath) || !_options.FileSystem.Exists(Path.Combine(_directory, "CURRENT"));
        bool clean = File.Exists(cleanPath);
        if (fresh)
        {
            // A new (or emptied) directory: a new identity, written before any data.
            NewIdentity();
        }
        else if (!clean)
        {
            // The last run did not stop cleanly: a dot it sent out may not have been stored.
            Log.Info($"vnode {_partition}: not stopped cleanly last time; taking a new identity for its dots");
            NewIdentity();
        }
        else
        {
            VnodeId = File.ReadAllText(idPath).Trim();
        }
        if (clean)
        {
            // Gone (durably) before the first dot of this run: a crash from here on leaves no mark.
            File.Delete(cleanPath);
            _options.FileSystem.SyncDirectory(_directory);
        }
        _epochs = new KeyEpochs(_directory, _options.FileSystem);
        _engine = LsmEngine.Open(_directory, _options);
        _freshStart = fresh;
        if (File.Exists(Path.Combine(_directory, UnsyncedFile)))
            _filling = []; // still filling since an earlier run: asks again once it has a ring
        _anyReaped = _engine.ScanPrefix(VnodeMetaKeys.ReapedPrefix).Any();
        RepairRecordedDamage();
        if (_aae.Enabled)
            Timers.StartPeriodicTimer(Scrub.Instance, Scrub.Instance, _aae.ScrubInterval);
        Timers.StartPeriodicTimer(SweepTombstones.Instance, SweepTombstones.Instance, _reaping.SweepInterval);
    }

    /// <summary>
    /// After a failure the new instance knows no ring (and so no handoff target): it asks the ring
    /// manager, and starts any handoff over. Writes the failed instance left with the engine still
    /// report to this actor, and their callbacks answer their coordinators.
    /// </summary>
    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Log.Warning($"vnode {_partition}: restarted after a failure ({reason.Message}); asking for the ring");
        Context.System.ActorSelection("/user/" + KvPaths.RingManager).Tell(GetRing.Instance, Self);
    }

    protected override void PostStop()
    {
        if (_engine is null)
            return;
        _engine.Dispose();
        if (_dotsInFlight == 0 && !_identityDirty)
        {
            File.WriteAllText(Path.Combine(_directory, CleanFile), "");
            _options.FileSystem.SyncDirectory(_directory);
        }
    }

    /// <summary>A new identity for this vnode's dots, stored (and synced) before it is used.</summary>
    private void NewIdentity()
    {
        VnodeId = $"p{_partition}-{Guid.NewGuid():N}";
        DurableFile.Replace(Path.Combine(_directory, IdFile), System.Text.Encoding.UTF8.GetBytes(VnodeId));
        _options.FileSystem.SyncDirectory(_directory);
    }

    /// <summary>After a coordinated write failed: its dot may be out, so it is never issued again.</summary>
    private void RetireIdentity()
    {
        try
        {
            File.Delete(Path.Combine(_directory, CleanFile));
            NewIdentity();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The new identity holds in memory; the next start takes another (no clean-stop mark).
            VnodeId = $"p{_partition}-{Guid.NewGuid():N}";
            _identityDirty = true;
            Log.Warning($"vnode {_partition}: could not store a new identity ({e.Message}); using one in memory");
        }
    }

    /// <summary>The length of the storage key of a key in a namespace.</summary>
    internal static int StorageKeyLength(int nsLength, int keyLength) => 2 + nsLength + keyLength;

    /// <summary>The engine's key for (namespace, key); an <see cref="ArgumentException"/> (a request error) if it cannot hold it.</summary>
    internal static byte[] StorageKey(byte[] ns, byte[] key)
    {
        if (ns.Length > ushort.MaxValue || StorageKeyLength(ns.Length, key.Length) > LsmEngine.MaxKeySize)
            throw new ArgumentException($"a key of {key.Length} bytes in a namespace of {ns.Length} bytes exceeds the storage engine's key limit ({LsmEngine.MaxKeySize} bytes)");
        var k = new byte[StorageKeyLength(ns.Length, key.Length)];
        BinaryPrimitives.WriteUInt16BigEndian(k, (ushort)ns.Length);
        ns.CopyTo(k, 2);
        key.CopyTo(k, 2 + ns.Length);
        return k;
    }

    /// <summary>The (namespace, key) of a storage key, or null if it is malformed.</summary>
    internal static (byte[] Ns, byte[] Key)? SplitStorageKey(byte[] storageKey) =>
        TrySplitStorageKey(storageKey, out var ns, out var key) ? (ns.ToArray(), key.ToArray()) : null;

    /// <summary>The namespace and key of a storage key, in place (no copies: for hot paths); false when malformed.</summary>
    internal static bool TrySplitStorageKey(byte[] storageKey, out ReadOnlySpan<byte> ns, out ReadOnlySpan<byte> key)
    {
        ns = key = default;
        if (storageKey.Length < 2)
            return false;
        int nsLength = BinaryPrimitives.ReadUInt16BigEndian(storageKey);
        if (storageKey.Length < 2 + nsLength)
            return false;
        ns = storageKey.AsSpan(2, nsLength);
        key = storageKey.AsSpan(2 + nsLength);
        return true;
    }

    private DvvSet<Sibling>? Read(byte[] storageKey)
    {
        if (_pending.TryGetValue(storageKey, out var pending))
            return pending.Object;
        // The engine's own bytes, not a copy: the decoder copies what it keeps.
        return _engine!.TryGet(storageKey, out var stored) ? KvObjectCodec.Decode(stored.Span) : null;
    }

    private sealed class PendingWrite(DvvSet<Sibling> obj, ReadOnlyMemory<byte> encoded)
    {
        public DvvSet<Sibling> Object = obj;
        public ReadOnlyMemory<byte> Encoded = encoded;
        public int Count = 1;
    }

    /// <summary>A write of this vnode committed (or failed, <see cref="Error"/>); <see cref="Then"/> runs in the actor.</summary>
    private sealed class WriteDone(IActorRef vnode, byte[] key, ReadOnlyMemory<byte> encoded, Action<Exception?> then)
    {
        public byte[] Key { get; } = key;

        public ReadOnlyMemory<byte> Encoded { get; } = encoded;

        public Action<Exception?> Then { get; } = then;

        public Exception? Error { get; private set; }

        /// <summary>From the engine (once): the outcome, sent to the vnode as this message.</summary>
        public void Report(Exception? error)
        {
            Error = error;
            vnode.Tell(this, ActorRefs.NoSender);
        }
    }

    /// <summary>
    /// Sends a write to the engine without waiting for it: the vnode goes on with its next message
    /// (more writes join the same group commit; reads do not queue behind an fsync), and reads and
    /// writes of the key see the new version at once. <paramref name="then"/> runs in the actor when
    /// the engine has committed it (durably if asked) or failed.
    /// </summary>
    private void StartWrite(byte[] key, DvvSet<Sibling>? before, DvvSet<Sibling> obj, ReadOnlyMemory<byte> encoded, bool durable, Action<Exception?> then)
    {
        TreeUpdate(key, before, obj);
        if (_pending.TryGetValue(key, out var pending))
        {
            pending.Object = obj;
            pending.Encoded = encoded;
            pending.Count++;
        }
        else
        {
            _pending[key] = new PendingWrite(obj, encoded);
        }
        var done = new WriteDone(Self, key, encoded, then);
        try
        {
            // The engine calls back on the thread that committed the group; the callback only tells this actor.
            var batch = new WriteBatch(key.Length + encoded.Length).Put(key, encoded.Span);
            if (ReapDue(obj) is { } due)
                batch.Put(VnodeMetaKeys.Tombstone(key), VnodeMetaKeys.Stamp(due)); // found by the reaping sweep
            _engine!.Write(batch, durable, static (error, state) => ((WriteDone)state!).Report(error), done);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            done.Report(e);
        }
    }

    /// <summary>The engine made everything committed so far durable (or failed); <see cref="Then"/> runs in the actor.</summary>
    private sealed class SyncDone(IActorRef vnode, Action<Exception?> then)
    {
        public Action<Exception?> Then { get; } = then;

        public Exception? Error { get; private set; }

        public void Report(Exception? error)
        {
            Error = error;
            vnode.Tell(this, ActorRefs.NoSender);
        }
    }

    /// <summary>Runs <paramref name="then"/> in the actor once every committed write of this vnode is durable.</summary>
    private void StartSync(Action<Exception?> then)
    {
        var done = new SyncDone(Self, then);
        try
        {
            _engine!.Sync(static (error, state) => ((SyncDone)state!).Report(error), done);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            done.Report(e);
        }
    }

    private void OnWriteDone(WriteDone done)
    {
        if (_pending.TryGetValue(done.Key, out var pending) && --pending.Count == 0)
            _pending.Remove(done.Key);
        if (done.Error is null)
            Written(done.Key, done.Encoded);
        done.Then(done.Error);
        if (_pending.Count == 0 && _retireWhenDrained)
        {
            _retireWhenDrained = false;
            FinishSweep();
        }
    }

    private bool Forwarding(object message)
    {
        if (_forwardTo is null)
            return false;
        _forwardTo.Tell(message, Sender);
        return true;
    }

    private void OnGet(VnodeGet get)
    {
        if (Forwarding(get))
            return;
        try
        {
            var key = StorageKey(get.Namespace, get.Key);
            // The engine's own bytes, sent without a copy. (Spelled out: a null in a conditional with a
            // ReadOnlyMemory would convert to an empty one, which is not "not found".)
            ReadOnlyMemory<byte>? stored = null;
            if (_pending.TryGetValue(key, out var pending))
                stored = pending.Encoded;
            else if (_engine!.TryGet(key, out var found))
                stored = found;
            if (stored is { } bytes)
            {
                KvObjectCodec.Validate(bytes.Span); // checked here; decoded by the coordinator if it needs to
                if (get.Head)
                    stored = KvObjectCodec.Encode(Head(KvObjectCodec.Decode(bytes.Span))); // exists: no value bytes
            }
            Sender.Tell(new VnodeGetReply(_partition, get.RequestId, null, null) { Stored = stored, Unsynced = _filling is not null }, Self);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or ArgumentException)
        {
            Log.Error(e, $"vnode {_partition}: read failed: {e.Message}");
            Sender.Tell(new VnodeGetReply(_partition, get.RequestId, null, e.Message), Self);
            if (e is StorageCorruptionException corrupt)
                OnCorruption(corrupt);
        }
    }

    /// <summary>An object's head: its clock and its values' metadata, each value's bytes left out.</summary>
    internal static DvvSet<Sibling> Head(DvvSet<Sibling> obj)
    {
        static Sibling Strip(Sibling v) => v.Value.Length == 0 ? v : new Sibling([], v.ContentType, v.LastModifiedMs, v.Deleted, v.ExpiresAtMs);
        return new DvvSet<Sibling>(
            [.. obj.Entries.Select(e => e with { Values = [.. e.Values.Select(Strip)] })],
            [.. obj.Anonymous.Select(Strip)]);
    }

    private void OnCoordinatePut(VnodeCoordinatePut put)
    {
        if (Forwarding(put))
            return;
        var sender = Sender;
        try
        {
            var key = StorageKey(put.Namespace, put.Key);
            var current = Read(key);
            var stored = current ?? DvvSet<Sibling>.Empty;
            // A key this identity has not written (or whose object is gone: reaped) gets a new epoch,
            // so its counters never start again under an actor some context may already hold (kv679).
            string actor = KeyEpochs.Continuing(VnodeId, current, put.Context) ?? KeyEpochs.Actor(VnodeId, _epochs!.Next());
            // last_write_wins: the new value replaces everything stored, whatever the client's context.
            var updated = put.LastWriteWins
                ? DvvSet<Sibling>.Overwrite(stored, put.Value, actor)
                : DvvSet<Sibling>.Update(DvvSet<Sibling>.New(put.Context, put.Value), stored, actor);
            if (updated.Size > put.MaxSiblings)
            {
                // Riak's guard against sibling explosion: refuse, store nothing.
                sender.Tell(new VnodePutReply(_partition, put.RequestId, null, false, $"{TooManySiblings} ({updated.Size} > {put.MaxSiblings}); write with the context of a read to resolve them"), Self);
                return;
            }
            if (updated.Size > put.WarnSiblings)
                Log.Warning($"vnode {_partition}: key {Convert.ToHexString(put.Key)} has {updated.Size} siblings (warn above {put.WarnSiblings}, refused above {put.MaxSiblings})");
            var encoded = KvObjectCodec.Encode(updated);
            if (encoded.Length > LsmEngine.MaxValueSize)
            {
                // Refused before its dot goes out: siblings of large values outgrew what a key can hold.
                sender.Tell(new VnodePutReply(_partition, put.RequestId, null, false, $"{TooManySiblings} ({updated.Size} siblings make an object of {encoded.Length} bytes, above the {LsmEngine.MaxValueSize} bytes a key can hold); write with the context of a read to resolve them"), Self);
                return;
            }
            // The new version goes back now (Riak's w) and the durable acknowledgement after the
            // commit (dw): the other replicas commit theirs meanwhile instead of after this one.
            _dotsInFlight++;
            sender.Tell(new VnodePutReply(_partition, put.RequestId, updated, Durable: false, null) { Encoded = encoded }, Self);
            long requestId = put.RequestId; // (the callback lives until the commit: it keeps the id, not the request)
            StartWrite(key, current, updated, encoded, durable: true, error =>
            {
                _dotsInFlight--;
                if (error is null)
                {
                    sender.Tell(new VnodePutReply(_partition, requestId, null, Durable: true, null), Self);
                    return;
                }
                RetireIdentity(); // the dot went out with the first answer: never issue it again
                Log.Error(error, $"vnode {_partition}: coordinated put failed: {error.Message}");
                sender.Tell(new VnodePutReply(_partition, requestId, null, false, error.Message), Self);
            });
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException or ArgumentException)
        {
            Log.Error(e, $"vnode {_partition}: coordinated put failed: {e.Message}");
            sender.Tell(new VnodePutReply(_partition, put.RequestId, null, false, e.Message), Self);
        }
    }

    private void OnApply(VnodeApply apply)
    {
        if (Forwarding(apply))
            return;
        var sender = Sender;
        void Answer(Exception? error)
        {
            if (error is not null)
                Log.Error(error, $"vnode {_partition}: apply failed: {error.Message}");
            if (apply.RequestId != VnodeApply.NoReply)
                sender.Tell(new VnodePutReply(_partition, apply.RequestId, null, error is null && apply.Durable, error?.Message), Self);
        }
        try
        {
            var key = StorageKey(apply.Namespace, apply.Key);
            var admitted = Admitted(key, apply.Object);
            if (admitted is null)
            {
                Answer(null); // all of it was deleted and reaped here: nothing to store
                return;
            }
            if (!ReferenceEquals(admitted, apply.Object))
                apply = apply with { Object = admitted, Encoded = null };
            var stored = ReadOrRepair(key);
            var merged = stored is null ? apply.Object : DvvSet<Sibling>.Sync(stored, apply.Object);
            // Unchanged and committed: nothing to write, but it may have been stored without a sync
            // (read repair, a handoff forward): a durable answer waits for one. (Unchanged but still
            // pending: written again, so that the answer waits for a commit.)
            if (stored is not null && merged.SameAs(stored) && !_pending.ContainsKey(key))
            {
                if (apply.Durable)
                    StartSync(Answer);
                else
                    Answer(null);
            }
            else if (apply.Encoded is { } encoded && (stored is null || merged.SameAs(apply.Object)))
                StartWrite(key, stored, merged, encoded, apply.Durable, Answer); // the incoming object as it came: no new encoding
            else
                StartWrite(key, stored, merged, KvObjectCodec.Encode(merged), apply.Durable, Answer);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException or ArgumentException)
        {
            Answer(e);
        }
    }

    private async Task OnReap(VnodeReap reap)
    {
        if (Forwarding(reap) || _target is not null)
            return; // while handing off, tombstones stay (the sweep would not carry a removal)
        try
        {
            var key = StorageKey(reap.Namespace, reap.Key);
            var stored = Read(key);
            // Tombstones, or values all past their expiry on this vnode's clock (the sweep offers them
            // only after the last expiry plus the skew tolerance, so every replica's clock agrees).
            if (stored is not null && stored.SameAs(reap.Object) && Expiry.Dead(stored, NowMs))
            {
                // The object goes; its clock stays, so that nothing it covered can be stored again.
                var write = new WriteBatch()
                    .Delete(key)
                    .Delete(VnodeMetaKeys.Tombstone(key))
                    .Put(VnodeMetaKeys.Reaped(key), VnodeMetaKeys.ReapedRecord(stored, NowMs));
                TreeUpdate(key, stored, null);
                await _engine!.WriteAsync(write, durable: true);
                _anyReaped = true;
                _reapAttempts.Remove(key);
            }
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException or ArgumentException)
        {
            Log.Error(e, $"vnode {_partition}: reap failed: {e.Message}");
        }
    }

    /// <summary>Objects handed off to this vnode (or a single write forwarded by the old owner), stored in one durable batch.</summary>
    private async Task OnHandoffBatch(HandoffBatch batch)
    {
        var sender = Sender;
        if (_engine is null)
        {
            if (batch.Seq != HandoffBatch.Forwarded)
                sender.Tell(new HandoffBatchAck(_partition, batch.Seq, $"vnode {_partition} on {_self} has handed its data off"), Self);
            return;
        }
        string? error = null;
        try
        {
            var write = new WriteBatch();
            var changed = new List<(byte[] Key, byte[] Encoded)>();
            foreach (var (key, obj) in batch.Items)
            {
                if (VnodeMetaKeys.IsPaxos(key))
                {
                    ReceivePaxosState(write, key, obj);
                    continue;
                }
                if (VnodeMetaKeys.IsReaped(key))
                {
                    ReceiveReapedClock(write, key, obj);
                    continue;
                }
                if (!BelongsHere(key))
                    throw new FormatException("a handed-off key is malformed");
                var incoming = Admitted(key, KvObjectCodec.Decode(obj));
                if (incoming is null)
                    continue; // deleted and reaped here since that copy was made
                var stored = Read(key);
                var merged = stored is null ? incoming : DvvSet<Sibling>.Sync(stored, incoming);
                if (stored is null || !merged.SameAs(stored))
                {
                    var encoded = KvObjectCodec.Encode(merged);
                    write.Put(key, encoded);
                    if (ReapDue(merged) is { } due)
                        write.Put(VnodeMetaKeys.Tombstone(key), VnodeMetaKeys.Stamp(due));
                    changed.Add((key, encoded));
                    TreeUpdate(key, stored, merged);
                }
            }
            if (write.Count > 0)
                await _engine!.WriteAsync(write, durable: batch.Seq != HandoffBatch.Forwarded);
            else if (batch.Seq != HandoffBatch.Forwarded)
                await _engine!.SyncAsync(); // all held already, maybe unsynced (a forward): durable before the ack
            foreach (var (key, encoded) in changed)
                Written(key, encoded);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException or ArgumentException)
        {
            Log.Error(e, $"vnode {_partition}: handoff batch {batch.Seq} from {batch.From} refused: {e.Message}");
            error = e.Message;
        }
        if (batch.Seq != HandoffBatch.Forwarded)
            sender.Tell(new HandoffBatchAck(_partition, batch.Seq, error), Self);
    }

    private long NowMs => TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

    private long TtlToleranceMs => (long)_reaping.TtlClockSkewTolerance.TotalMilliseconds;

    /// <summary>
    /// When <paramref name="obj"/> may be reaped (the grace counts from then): now for tombstones alone,
    /// the last expiry plus the skew tolerance for values that all expire; null when it holds a value
    /// without a TTL (see <see cref="Expiry.ReapDueMs"/>).
    /// </summary>
    private long? ReapDue(DvvSet<Sibling> obj) => Expiry.ReapDueMs(obj, NowMs, TtlToleranceMs);

    /// <summary>
    /// A reaped clock handed off with the partition: kept (merged with one held already), so that
    /// copies it covers arriving later are dropped here too. A malformed one refuses the batch.
    /// </summary>
    private void ReceiveReapedClock(WriteBatch write, byte[] metaKey, byte[] record)
    {
        var key = VnodeMetaKeys.DataKey(metaKey);
        if (!BelongsHere(key))
            throw new FormatException("a handed-off reaped clock is malformed");
        var clock = VnodeMetaKeys.ReapedClock(record);
        if (clock.Anonymous.Length > 0 || clock.Entries.Any(e => e.Values.Length > 0))
            throw new FormatException("a handed-off reaped clock holds values");
        byte[] merged = _engine!.TryGet(metaKey, out var held) ? VnodeMetaKeys.MergeReaped(held.Span, record) : record;
        write.Put(metaKey, merged);
        _anyReaped = true;
    }

    /// <summary>
    /// An object arriving from elsewhere (replication, read repair, handoff) without what a tombstone
    /// reaped here covered (null when nothing is left): a copy made before the delete cannot bring
    /// the key back, while writes the delete did not see are kept.
    /// </summary>
    private DvvSet<Sibling>? Admitted(byte[] key, DvvSet<Sibling> incoming)
    {
        if (!_anyReaped || !_engine!.TryGet(VnodeMetaKeys.Reaped(key), out var record))
            return incoming;
        var left = VnodeMetaKeys.WithoutReaped(incoming, VnodeMetaKeys.ReapedClock(record.Span));
        return left is not null && left.SameAs(incoming) ? incoming : left;
    }

    /// <summary>
    /// The periodic reaping sweep: each tombstone held longer than the grace is offered to the
    /// node's router for reaping (which checks all N primaries), again with backoff until it is gone;
    /// index entries of keys that are no longer tombstones are dropped; reaped clocks past their
    /// retention are dropped. Nothing while handing off (tombstones stay until the transfer is done).
    /// </summary>
    private void OnSweepTombstones()
    {
        if (_engine is null || _target is not null || _forwardTo is not null)
            return;
        const int MaxPerSweep = 1000;
        long now = NowMs;
        long grace = (long)_reaping.Grace.TotalMilliseconds;
        try
        {
            var router = Context.System.ActorSelection("/user/" + KvPaths.Router);
            var stale = new WriteBatch();
            int offered = 0;
            foreach (var (indexKey, value) in _engine.ScanPrefix(VnodeMetaKeys.TombstonePrefix))
            {
                if (offered >= MaxPerSweep)
                    break;
                var key = VnodeMetaKeys.DataKey(indexKey);
                if (VnodeMetaKeys.StampOf(value) is not { } stamp || SplitStorageKey(key) is not { } nsKey)
                {
                    stale.Delete(indexKey);
                    continue;
                }
                if (now - stamp < grace || _pending.ContainsKey(key))
                    continue;
                var stored = Read(key);
                if (stored is null || Expiry.ReapDueMs(stored, stamp, TtlToleranceMs) is not { } due)
                {
                    stale.Delete(indexKey); // written over (or reaped): nothing to reap
                    _reapAttempts.Remove(key);
                    continue;
                }
                if (now - due < grace)
                    continue; // a value that expires later arrived (its write moved the stamp too)
                long delay = (long)_reaping.SweepInterval.TotalMilliseconds;
                if (_reapAttempts.TryGetValue(key, out var attempt))
                {
                    if (now < attempt.Next)
                        continue;
                    delay = Math.Min(attempt.Delay * 2, (long)_reaping.MaxBackoff.TotalMilliseconds);
                }
                _reapAttempts[key] = (now + delay, delay);
                router.Tell(new ReapTombstone(nsKey.Ns, nsKey.Key), Self);
                offered++;
            }
            long retention = (long)_reaping.ReapedRetention.TotalMilliseconds;
            bool anyLeft = false;
            foreach (var (reapedKey, value) in _engine.ScanPrefix(VnodeMetaKeys.ReapedPrefix))
            {
                if (VnodeMetaKeys.StampOf(value) is not { } stamp || now - stamp > retention)
                    stale.Delete(reapedKey);
                else
                    anyLeft = true;
            }
            if (stale.Count > 0)
                _engine.Write(stale, durable: false);
            _anyReaped = anyLeft;
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            Log.Warning($"vnode {_partition}: tombstone sweep failed: {e.Message}");
        }
    }

    // A vnode holds the keys of every preference list its partition is in (keys whose own
    // partition is this one or up to n_val - 1 before it), so only the key's form is checked.
    private static bool BelongsHere(byte[] storageKey) => SplitStorageKey(storageKey) is { Ns.Length: > 0, Key.Length: > 0 };

    /// <summary>After a local write: while handing off, forward it and remember the key for the sweep.</summary>
    private void Written(byte[] key, ReadOnlyMemory<byte> encoded)
    {
        if (_target is null)
            return;
        _dirty.Add(key);
        KvPaths.On(Context.System, _target, KvPaths.VnodeManager).Tell(new HandoffBatch(_partition, HandoffBatch.Forwarded, [(key, encoded.ToArray())], _self), Self);
    }

    private void OnRing(Ring.Ring ring)
    {
        if (ring.Size <= _partition || (_ring is not null && !ring.Equals(_ring) && !ring.Supersedes(_ring)))
            return; // an older ring (the ring manager's answer after a restart may cross a newer one)
        _ring = ring;
        CheckSync(ring);
        if (!_buildAsked && _trees is null && _engine is not null && _forwardTo is null)
            AskToBuild();
        if (_lostRanges.Count > 0)
            Refill();
        if (_awaitingSeen && _forwardTo is null && _target is not null && ring.Owners[_partition] == _target && ring.OwnerSeenByAll(_partition))
        {
            _awaitingSeen = false;
            FinishSweep(); // every member has seen the switch (writes since are swept first)
            return;
        }
        if (_forwardTo is not null)
        {
            _forwardTo = KvPaths.Vnode(Context.System, ring.Owners[_partition], _partition);
            return;
        }
        string owner = ring.Owners[_partition];
        string pending = ring.Pending[_partition];
        string? target = pending == _self ? null : pending;
        if (target != _target)
        {
            if (_sender is not null)
                Context.Stop(_sender);
            _sender = null;
            _sweeping = false;
            _awaitingSeen = false;
            _retireWhenDrained = false;
            _transferredTo = null;
            _target = target;
            _dirty = new HashSet<byte[]>(ByteArrayComparer.Instance);
            if (target is not null)
            {
                Log.Info($"vnode {_partition}: handing off to {target} (ring v{ring.Version})");
                StartSender(target, sweepOnly: false);
            }
        }
        if (_target is not null && _transferredTo == _target)
        {
            if (owner == _self)
                Context.System.ActorSelection("/user/" + KvPaths.RingManager).Tell(new TransferComplete(_partition, _self, _target), Self);
            else if (!_sweeping && _sender is null)
            {
                // The ring switched: send the last writes, then retire.
                _sweeping = true;
                StartSender(_target, sweepOnly: true);
            }
        }
    }

    private void StartSender(string target, bool sweepOnly)
    {
        // Everything the child needs, taken now: the factory runs later, on the child's thread.
        var (partition, engine, self, handoff, manager) = (_partition, _engine!, _self, _handoff, Context.Parent);
        _sender = Context.ActorOf(KvProps.Of(() => new HandoffSender(partition, engine, target, self, sweepOnly, handoff, manager)),
            (sweepOnly ? "sweep-" : "handoff-") + Guid.NewGuid().ToString("N")[..8]);
        Context.Watch(_sender);
    }

    private void OnTakeDirty()
    {
        var keys = _dirty.ToList();
        _dirty = new HashSet<byte[]>(ByteArrayComparer.Instance);
        Sender.Tell(new DirtyKeys(keys), Self);
    }

    private void OnHandoffFinished(HandoffFinished done)
    {
        if (done.Target != _target)
            return;
        if (Sender.Equals(_sender))
            _sender = null; // it stops itself now: a ring arriving before its Terminated may start the next one
        if (!done.SweepOnly)
        {
            _transferredTo = done.Target;
            Log.Info($"vnode {_partition}: data handed off to {done.Target}");
            if (_ring is not null)
                OnRing(_ring);
            return;
        }
        FinishSweep();
    }

    /// <summary>
    /// After a sweep after the switch: the data goes only when every write this vnode took is
    /// acknowledged by the new owner. Writes still committing, or committed since the sweep's last
    /// look, went out only as forwards, which nobody acknowledges: once they are in, they are
    /// swept (acknowledged) too, and so on until a sweep ends with nothing new.
    /// </summary>
    private void FinishSweep()
    {
        if (_target is null || _forwardTo is not null)
            return; // the transfer was called off, or it is done
        if (_pending.Count > 0)
        {
            _retireWhenDrained = true; // decided again once its last writes are in
            return;
        }
        if (_dirty.Count > 0)
        {
            StartSender(_target!, sweepOnly: true);
            return;
        }
        if (!_ring!.OwnerSeenByAll(_partition))
        {
            // A member that has not seen the switch still sends here: the data stays until all have.
            _awaitingSeen = true;
            return;
        }
        Retire();
    }

    private void Retire()
    {
        string owner = _ring!.Owners[_partition];
        Log.Info($"vnode {_partition}: handed off to {owner}; deleting local data and forwarding for {_handoff.ForwardingGrace.TotalSeconds:0} s");
        // Fills sent from this vnode read its engine: stop them before it goes (a neighbour still
        // filling asks again, after its fill tick, the partition's new owner).
        foreach (var fill in _fills.Values)
            Context.Stop(fill);
        _fills.Clear();
        StopScans();
        try
        {
            if (_engine is not null)
                _engine.DisposeAndDelete(); // also tells the shared commit log its records are not needed
            else
                Directory.Delete(_directory, recursive: true);
            _engine = null;
            _trees = null;
            _building = null;
            _buildDirty = null;
        }
        catch (IOException e)
        {
            Log.Warning($"vnode {_partition}: could not delete {_directory}: {e.Message}");
        }
        _target = null;
        _forwardTo = KvPaths.Vnode(Context.System, owner, _partition);
        Context.Parent.Tell(new VnodeRetired(_partition), Self);
    }

    /// <summary>
    /// The first ring after an empty start decides whether this vnode is unsynced: it owns a
    /// partition the ring lists as lost (taken over when its previous owner was gone, nothing
    /// handed off), or one the ring gave this node before (any ring after the first, or the node
    /// started without a ring and the cluster's ring shows it had been a member: its data
    /// directory was lost or wiped). A new cluster's vnodes and handoff targets are synced
    /// (nothing to fill, or filled by the handoff). The decision is kept in a file until the vnode has filled itself.
    /// </summary>
    private void CheckSync(Ring.Ring ring)
    {
        if (_freshStart && !_syncDecided && _engine is not null)
        {
            _syncDecided = true;
            bool lost = ring.Lost.Contains(_partition);
            // Owned here in a ring after the cluster's first one, yet no directory:
            // this node's data was lost or wiped (a new cluster's first ring gives empty vnodes,
            // and a partition a node joins for arrives by handoff, pending first).
            bool wiped = !lost && (ring.Version > 1 || _dataLost);
            if (ring.Owners[_partition] == _self && (lost || wiped))
            {
                try
                {
                    DurableFile.Replace(Path.Combine(_directory, UnsyncedFile), []);
                    _options.FileSystem.SyncDirectory(_directory);
                }
                catch (IOException e)
                {
                    Log.Warning($"vnode {_partition}: could not store the unsynced mark ({e.Message}); unsynced for this run");
                }
                _filling = [];
                Log.Info(lost
                    ? $"vnode {_partition}: took the partition over without its data (ring v{ring.Version}); its not-founds do not count until it has filled itself from its neighbours"
                    : $"vnode {_partition}: started empty on a partition ring v{ring.Version} already gave this node (its data was lost or wiped); its not-founds do not count until it has filled itself from its neighbours");
            }
        }
        if (_filling is { Count: 0 })
            StartFill(ring);
        else if (_filling is not null)
            AskFill();
    }

    /// <summary>The partitions that share keys with this one: each key here has its replicas within maxNVal - 1 partitions either side.</summary>
    private void StartFill(Ring.Ring ring)
    {
        _filling!.UnionWith(Neighbours(ring));
        if (_filling!.Count == 0)
            Synced();
        else
            AskFill();
    }

    /// <summary>The other partitions within maxNVal - 1 of this one: the only vnodes that share keys with it.</summary>
    private IEnumerable<int> Neighbours(Ring.Ring ring)
    {
        int reach = Math.Min(_maxNVal - 1, ring.Size - 1);
        for (int d = -reach; d <= reach; d++)
        {
            int q = ((_partition + d) % ring.Size + ring.Size) % ring.Size;
            if (q != _partition)
                yield return q;
        }
    }

    /// <summary>Asks the neighbours that have not finished yet (again, after a while or a new ring).</summary>
    private void AskFill()
    {
        if (_filling is not { Count: > 0 } || _ring is null || _engine is null)
            return;
        foreach (int q in _filling)
            KvPaths.Vnode(Context.System, _ring.Owners[q], q).Tell(new FillRequest(q, _partition, _self), Self);
        Timers.StartSingleTimer(FillTick.Instance, FillTick.Instance, _handoff.AckTimeout);
    }

    private void OnFillDone(FillDone done)
    {
        if (done.For != _partition || _filling is null || !_filling.Remove(done.Partition) || _filling.Count > 0)
            return;
        Synced();
    }

    private void Synced()
    {
        try
        {
            File.Delete(Path.Combine(_directory, UnsyncedFile));
            _options.FileSystem.SyncDirectory(_directory);
        }
        catch (IOException e)
        {
            Log.Warning($"vnode {_partition}: could not remove the unsynced mark ({e.Message}); it fills itself again at its next start");
        }
        _filling = null;
        Timers.Cancel(FillTick.Instance);
        Log.Info($"vnode {_partition}: filled from its neighbours; synced");
    }

    /// <summary>A neighbour's unsynced vnode asks for this one's keys that belong to it.</summary>
    private void OnFillRequest(FillRequest request)
    {
        if (Forwarding(request))
            return;
        if (_engine is null || _ring is null || request.Partition != _partition || request.For < 0 || request.For >= _ring.Size || _fills.ContainsKey((request.For, request.Node)))
            return;
        int size = _ring.Size, target = request.For;
        var nValOf = _nValOf;
        var ranges = request.Ranges;
        Func<byte[], bool> belongs = storageKey =>
        {
            if (ranges is not null && !ranges.Any(r => r.Contains(storageKey)))
                return false; // a refill of what a damaged table lost: only its ranges
            if (SplitStorageKey(storageKey) is not { } split)
                return false;
            int n = nValOf(System.Text.Encoding.UTF8.GetString(split.Ns));
            int own = KeyHash.PartitionOf(split.Ns, split.Key, size);
            return ((target - own) % size + size) % size < n;
        };
        var (engine, partition, self, handoff, manager) = (_engine, _partition, _self, _handoff, Context.Parent);
        var sender = Context.ActorOf(KvProps.Of(() => new HandoffSender(partition, engine, request.Node, self, false, handoff, manager, target, belongs)),
            "fill-" + Guid.NewGuid().ToString("N")[..8]);
        Context.Watch(sender);
        _fills[(request.For, request.Node)] = sender;
    }

    private void OnFillFinished(FillFinished done)
    {
        _fills.Remove((done.For, done.Node));
        KvPaths.Vnode(Context.System, done.Node, done.For).Tell(new FillDone(_partition, done.For), Self);
    }
}
