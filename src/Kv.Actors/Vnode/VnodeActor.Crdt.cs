using Kv.Actors.Crdt;
using Kv.Actors.Objects;
using Akka.Actor;
using Akka.Event;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// The coordinating vnode's CRDT update: read the object, merge its live siblings into one state,
/// apply <paramref name="Op"/> as this vnode's CRDT actor, and store the result as one value whose
/// dot dominates everything read (as a coordinated put with the stored object's context would).
/// <paramref name="MaxBytes"/> bounds the new state's encoding.
/// </summary>
public sealed record VnodeCoordinateUpdate(byte[] Namespace, byte[] Key, CrdtOp Op, Datatype Datatype, long RequestId, int MaxBytes);

/// <summary>How a <see cref="VnodeCoordinateUpdate"/> ended.</summary>
public enum UpdateOutcome
{
    /// <summary>Applied and stored durably; the reply carries the new object.</summary>
    Applied = 0,

    /// <summary>The operation cannot apply (wrong type of value, overflow, too big): nothing stored; the client's error.</summary>
    Refused = 1,

    /// <summary>Not applied here (the vnode is still filling, could not read the key, or has handed off): another primary may coordinate.</summary>
    NotHere = 2,

    /// <summary>The write failed after the update was applied in memory: indeterminate.</summary>
    Failed = 3,
}

/// <summary>Answer to <see cref="VnodeCoordinateUpdate"/>: the stored object (when applied) and the operation's number.</summary>
public sealed record VnodeUpdateReply(int Partition, long RequestId, UpdateOutcome Outcome, DvvSet<Sibling>? Object, long Number, string? Error)
{
    /// <summary>The operation's result bytes (a popped list element), if any.</summary>
    public byte[]? Result { get; init; }

    /// <summary><see cref="Object"/>'s encoding, as the vnode stores it (passed on to the replicas).</summary>
    internal ReadOnlyMemory<byte>? Encoded { get; init; }
}

public sealed partial class VnodeActor
{
    private const string CrdtIdFile = "CRDT_ACTOR";
    private string? _crdtActor;

    /// <summary>
    /// This vnode's actor in CRDT states: one per data directory, kept across restarts (clean or
    /// not: an update is answered only once it is durable, so the stored state always holds every
    /// count this actor sent out), new when the directory's data is new (a fresh start), and new
    /// after a failed update write. So the actors of a state grow only with ownership changes and
    /// lost data, never per write or per restart.
    /// </summary>
    private string CrdtActor()
    {
        if (_crdtActor is not null)
            return _crdtActor;
        string path = Path.Combine(_directory, CrdtIdFile);
        if (!_freshStart && File.Exists(path))
        {
            string id = File.ReadAllText(path).Trim();
            if (id.Length > 0)
                return _crdtActor = id;
        }
        return _crdtActor = NewCrdtActor();
    }

    private string NewCrdtActor()
    {
        // Short (it is in every state it touched), unique: the partition and 64 random bits.
        string id = $"p{_partition}.{Convert.ToHexString(Guid.NewGuid().ToByteArray()[..8]).ToLowerInvariant()}";
        DurableFile.Replace(Path.Combine(_directory, CrdtIdFile), System.Text.Encoding.UTF8.GetBytes(id));
        _options.FileSystem.SyncDirectory(_directory);
        return id;
    }

    private void OnCoordinateUpdate(VnodeCoordinateUpdate update)
    {
        if (Forwarding(update))
            return;
        var sender = Sender;
        void Reply(UpdateOutcome outcome, string error) =>
            sender.Tell(new VnodeUpdateReply(_partition, update.RequestId, outcome, null, 0, error), Self);
        if (_engine is null)
        {
            Reply(UpdateOutcome.NotHere, $"vnode {_partition} on {_self} holds no data");
            return;
        }
        // A vnode that lost data (taken over empty, or a damaged table's ranges) coordinates only
        // once it has filled itself: a remove would miss adds it has not seen yet.
        if (_filling is not null || _lostRanges.Count > 0)
        {
            Reply(UpdateOutcome.NotHere, $"vnode {_partition} on {_self} is still filling itself from its neighbours");
            return;
        }
        byte[] key;
        DvvSet<Sibling>? current;
        try
        {
            key = StorageKey(update.Namespace, update.Key);
            current = Read(key);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or ArgumentException)
        {
            Reply(UpdateOutcome.NotHere, e.Message);
            if (e is StorageCorruptionException corrupt)
                OnCorruption(corrupt);
            return;
        }
        DvvSet<Sibling> updated;
        byte[] encoded;
        long number;
        byte[]? result;
        try
        {
            var merged = CrdtValues.MergedState(current, update.Datatype);
            object state = merged?.State ?? CrdtValues.Empty(update.Datatype);
            (object next, number, result) = CrdtValues.ApplyWithResult(state, update.Op, CrdtActor(), NowMs);
            byte[] value = CrdtValues.Encode(next);
            if (value.Length > update.MaxBytes)
                throw new CrdtRefusedException($"the {CrdtValues.Name(update.Datatype)} would take {value.Length} bytes, above kv.max-object-size ({update.MaxBytes} bytes)");
            var stored = current ?? DvvSet<Sibling>.Empty;
            var context = stored.Join();
            string actor = KeyEpochs.Continuing(VnodeId, current, context) ?? KeyEpochs.Actor(VnodeId, _epochs!.Next());
            updated = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(context, new Sibling(value, CrdtValues.ContentType(update.Datatype), NowMs, false)), stored, actor);
            encoded = KvObjectCodec.Encode(updated);
            if (encoded.Length > LsmEngine.MaxValueSize)
                throw new CrdtRefusedException($"the {CrdtValues.Name(update.Datatype)} would take {encoded.Length} bytes, above what a key can hold ({LsmEngine.MaxValueSize} bytes)");
        }
        catch (CrdtRefusedException e)
        {
            Reply(UpdateOutcome.Refused, e.Message);
            return;
        }
        catch (Exception e) when (e is OverflowException or ArgumentException or InvalidOperationException)
        {
            // What a peer or a stored state could make of the arithmetic (a clock at its limit): refused, never a crash.
            Reply(UpdateOutcome.Refused, $"the update cannot apply: {e.Message}");
            return;
        }
        catch (FormatException e)
        {
            Reply(UpdateOutcome.NotHere, $"the stored value does not decode: {e.Message}");
            return;
        }
        catch (IOException e)
        {
            Reply(UpdateOutcome.NotHere, e.Message);
            return;
        }
        // Answered only once durable: what this actor sends out is always in its own stored state.
        StartWrite(key, current, updated, encoded, durable: true, error =>
        {
            if (error is null)
            {
                sender.Tell(new VnodeUpdateReply(_partition, update.RequestId, UpdateOutcome.Applied, updated, number, null) { Encoded = encoded, Result = result }, Self);
                return;
            }
            // Later updates of the key may have read this state before it failed: never reuse the actors.
            RetireIdentity();
            try
            {
                _crdtActor = NewCrdtActor();
            }
            catch (IOException e)
            {
                _crdtActor = null;
                Log.Warning($"vnode {_partition}: could not store a new CRDT actor ({e.Message})");
            }
            Log.Error(error, $"vnode {_partition}: CRDT update failed: {error.Message}");
            sender.Tell(new VnodeUpdateReply(_partition, update.RequestId, UpdateOutcome.Failed, null, 0, error.Message), Self);
        });
    }
}
