using System.Buffers.Binary;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;
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
public sealed class VnodeActor : ReceiveActor
{
    private const string IdFile = "VNODE_ID";
    private const string CleanFile = "VNODE_CLEAN";

    /// <summary>Start of the error a write gets when it would exceed the sibling limit.</summary>
    public const string TooManySiblings = "too many siblings";
    private readonly int _partition;
    private readonly string _directory;
    private readonly StorageOptions _options;
    private readonly string _self;
    private readonly HandoffOptions _handoff;
    private LsmEngine? _engine;
    private Ring.Ring? _ring;
    private string? _target;
    private IActorRef? _sender;
    private string? _transferredTo;
    private bool _sweeping;
    private HashSet<byte[]> _dirty = new(ByteArrayComparer.Instance);
    private IActorRef? _forwardTo;
    private int _dotsInFlight; // coordinated writes answered but not yet durable
    // Writes sent to the engine and not yet committed, by key: the newest version, which reads and
    // later writes of the key see, and how many of the key's writes are still out.
    private readonly Dictionary<byte[], PendingWrite> _pending = new(ByteArrayComparer.Instance);
    private bool _retireWhenDrained;
    private bool _awaitingSeen; // swept, waiting for every member to see the switch before retiring
    private bool _identityDirty; // a new identity could not be stored: no clean-stop mark

    public VnodeActor(int partition, string directory, StorageOptions options, string selfNode, HandoffOptions? handoff = null)
    {
        _partition = partition;
        _directory = directory;
        _options = options;
        _self = selfNode;
        _handoff = handoff ?? new HandoffOptions();
        ReceiveAsync<VnodeGet>(OnGet);
        Receive<VnodeCoordinatePut>(OnCoordinatePut);
        Receive<VnodeApply>(OnApply);
        Receive<WriteDone>(OnWriteDone);
        Receive<SyncDone>(d => d.Then(d.Error));
        ReceiveAsync<VnodeReap>(OnReap);
        ReceiveAsync<HandoffBatch>(OnHandoffBatch);
        Receive<RingChanged>(m => OnRing(m.Ring));
        Receive<TakeDirty>(_ => OnTakeDirty());
        Receive<HandoffFinished>(OnHandoffFinished);
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_sender))
                _sender = null;
        });
    }

    /// <summary>This replica's identity in dots.</summary>
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
        _engine = LsmEngine.Open(_directory, _options);
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

    internal static byte[] StorageKey(byte[] ns, byte[] key)
    {
        var k = new byte[2 + ns.Length + key.Length];
        BinaryPrimitives.WriteUInt16BigEndian(k, (ushort)ns.Length);
        ns.CopyTo(k, 2);
        key.CopyTo(k, 2 + ns.Length);
        return k;
    }

    /// <summary>The (namespace, key) of a storage key, or null if it is malformed.</summary>
    internal static (byte[] Ns, byte[] Key)? SplitStorageKey(byte[] storageKey)
    {
        if (storageKey.Length < 2)
            return null;
        int nsLength = BinaryPrimitives.ReadUInt16BigEndian(storageKey);
        if (storageKey.Length < 2 + nsLength)
            return null;
        return (storageKey[2..(2 + nsLength)], storageKey[(2 + nsLength)..]);
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
    private void StartWrite(byte[] key, DvvSet<Sibling> obj, ReadOnlyMemory<byte> encoded, bool durable, Action<Exception?> then)
    {
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
            _engine!.Put(key, encoded.Span, durable, static (error, state) => ((WriteDone)state!).Report(error), done);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
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
        _forwardTo.Forward(message);
        return true;
    }

    private Task OnGet(VnodeGet get)
    {
        if (Forwarding(get))
            return Task.CompletedTask;
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
                KvObjectCodec.Validate(bytes.Span); // checked here; decoded by the coordinator if it needs to
            Sender.Tell(new VnodeGetReply(_partition, get.RequestId, null, null) { Stored = stored }, Self);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException)
        {
            Log.Error(e, $"vnode {_partition}: read failed: {e.Message}");
            Sender.Tell(new VnodeGetReply(_partition, get.RequestId, null, e.Message), Self);
        }
        return Task.CompletedTask;
    }

    private void OnCoordinatePut(VnodeCoordinatePut put)
    {
        if (Forwarding(put))
            return;
        var sender = Sender;
        try
        {
            var key = StorageKey(put.Namespace, put.Key);
            var stored = Read(key) ?? DvvSet<Sibling>.Empty;
            // last_write_wins: the new value replaces everything stored, whatever the client's context.
            var context = put.LastWriteWins ? stored.Join() : put.Context;
            var updated = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(context, put.Value), stored, VnodeId);
            if (updated.Size > put.MaxSiblings)
            {
                // Riak's guard against sibling explosion: refuse, store nothing.
                sender.Tell(new VnodePutReply(_partition, put.RequestId, null, false, $"{TooManySiblings} ({updated.Size} > {put.MaxSiblings}); write with the context of a read to resolve them"), Self);
                return;
            }
            if (updated.Size > put.WarnSiblings)
                Log.Warning($"vnode {_partition}: key {Convert.ToHexString(put.Key)} has {updated.Size} siblings (warn above {put.WarnSiblings}, refused above {put.MaxSiblings})");
            var encoded = KvObjectCodec.Encode(updated);
            // The new version goes back now (Riak's w) and the durable acknowledgement after the
            // commit (dw): the other replicas commit theirs meanwhile instead of after this one.
            _dotsInFlight++;
            sender.Tell(new VnodePutReply(_partition, put.RequestId, updated, Durable: false, null) { Encoded = encoded }, Self);
            StartWrite(key, updated, encoded, durable: true, error =>
            {
                _dotsInFlight--;
                if (error is null)
                {
                    sender.Tell(new VnodePutReply(_partition, put.RequestId, null, Durable: true, null), Self);
                    return;
                }
                RetireIdentity(); // the dot went out with the first answer: never issue it again
                Log.Error(error, $"vnode {_partition}: coordinated put failed: {error.Message}");
                sender.Tell(new VnodePutReply(_partition, put.RequestId, null, false, error.Message), Self);
            });
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException)
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
            var stored = Read(key);
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
                StartWrite(key, merged, encoded, apply.Durable, Answer); // the incoming object as it came: no new encoding
            else
                StartWrite(key, merged, KvObjectCodec.Encode(merged), apply.Durable, Answer);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException)
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
            if (stored is not null && stored.SameAs(reap.Object) && stored.Values.All(v => v.Deleted))
                await _engine!.DeleteAsync(key, durable: true);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException)
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
                if (!BelongsHere(key))
                    throw new FormatException("a handed-off key is malformed");
                var incoming = KvObjectCodec.Decode(obj);
                var stored = Read(key);
                var merged = stored is null ? incoming : DvvSet<Sibling>.Sync(stored, incoming);
                if (stored is null || !merged.SameAs(stored))
                {
                    var encoded = KvObjectCodec.Encode(merged);
                    write.Put(key, encoded);
                    changed.Add((key, encoded));
                }
            }
            if (write.Count > 0)
                await _engine!.WriteAsync(write, durable: batch.Seq != HandoffBatch.Forwarded);
            else if (batch.Seq != HandoffBatch.Forwarded)
                await _engine!.SyncAsync(); // all held already, maybe unsynced (a forward): durable before the ack
            foreach (var (key, encoded) in changed)
                Written(key, encoded);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException)
        {
            Log.Error(e, $"vnode {_partition}: handoff batch {batch.Seq} from {batch.From} refused: {e.Message}");
            error = e.Message;
        }
        if (batch.Seq != HandoffBatch.Forwarded)
            sender.Tell(new HandoffBatchAck(_partition, batch.Seq, error), Self);
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
        if (ring.Size <= _partition)
            return;
        _ring = ring;
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
        _sender = Context.ActorOf(Props.Create(() => new HandoffSender(_partition, _engine!, target, _self, sweepOnly, _handoff, Context.Parent)),
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
        try
        {
            if (_engine is not null)
                _engine.DisposeAndDelete(); // also tells the shared commit log its records are not needed
            else
                Directory.Delete(_directory, recursive: true);
            _engine = null;
        }
        catch (IOException e)
        {
            Log.Warning($"vnode {_partition}: could not delete {_directory}: {e.Message}");
        }
        _target = null;
        _forwardTo = KvPaths.Vnode(Context.System, owner, _partition);
        Context.Parent.Tell(new VnodeRetired(_partition), Self);
    }
}
