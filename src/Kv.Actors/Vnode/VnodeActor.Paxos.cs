using Kv.Actors.Consistent;
using Kv.Actors.Objects;
using Kv.Actors.Wire;
using Akka.Actor;
using Akka.Event;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// The vnode as a Paxos acceptor for the keys of consistent namespaces it holds (docs/consistency.md).
/// Per key it keeps the ballot promised, the value accepted (with its ballot) and the value last
/// committed (with its ballot) in its own engine, in a key space of its own records
/// (<see cref="VnodeMetaKeys.Paxos"/>): never read, scanned or hashed by anti-entropy as data, but
/// handed off with the partition (and sent in fills), merged by the receiver
/// (<see cref="ReceivePaxosState"/>); while handing off, each state written is forwarded and swept
/// like a data write, and after the switch Paxos messages are forwarded to the new owner. A promise and an accept are stored durably (synced) before they are answered; a commit is
/// stored without waiting for the sync (it only saves later rounds work; safety rests on accepts).
/// Writes go to the engine without blocking the actor; later messages for the key see the pending state.
/// </summary>
public sealed partial class VnodeActor
{
    private readonly Dictionary<byte[], (PaxosAcceptorState State, int Count)> _paxosPending = new(ByteArrayComparer.Instance);

    /// <summary>A Paxos state write committed (or failed); <see cref="Then"/> runs in the actor.</summary>
    private sealed class PaxosWriteDone(IActorRef vnode, byte[] key, Action<Exception?> then)
    {
        public byte[] Key { get; } = key;

        public Action<Exception?> Then { get; } = then;

        public Exception? Error { get; private set; }

        public void Report(Exception? error)
        {
            Error = error;
            vnode.Tell(this, ActorRefs.NoSender);
        }
    }

    private void ReceivePaxos()
    {
        Receive<PaxosPrepare>(OnPaxosPrepare);
        Receive<PaxosPropose>(OnPaxosPropose);
        Receive<PaxosCommit>(OnPaxosCommit);
        Receive<PaxosWriteDone>(done =>
        {
            if (_paxosPending.TryGetValue(done.Key, out var p))
            {
                if (p.Count <= 1)
                    _paxosPending.Remove(done.Key);
                else
                    _paxosPending[done.Key] = (p.State, p.Count - 1);
            }
            done.Then(done.Error);
        });
    }

    /// <summary>Why this vnode cannot act as an acceptor now, or null.</summary>
    private string? PaxosRefusal()
    {
        if (_engine is null)
            return $"vnode {_partition} on {_self} has handed its partition off";
        if (_filling is not null)
            return $"vnode {_partition} on {_self} is filling itself after a lost partition";
        return null;
    }

    private PaxosAcceptorState LoadPaxos(byte[] key)
    {
        if (_paxosPending.TryGetValue(key, out var pending))
            return pending.State;
        return _engine!.TryGet(key, out var stored) ? KvSerializers.DecodeAcceptorState(stored.Span) : PaxosAcceptorState.Empty;
    }

    private void StorePaxos(byte[] key, PaxosAcceptorState state, bool durable, Action<Exception?> then)
    {
        _paxosPending[key] = _paxosPending.TryGetValue(key, out var p) ? (state, p.Count + 1) : (state, 1);
        var done = new PaxosWriteDone(Self, key, then);
        try
        {
            byte[] encoded = KvSerializers.EncodeAcceptorState(state);
            _engine!.Write(new WriteBatch().Put(key, encoded), durable, static (error, s) => ((PaxosWriteDone)s!).Report(error), done);
            Written(key, encoded); // while handing off: forwarded, and swept again
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            done.Report(e);
        }
    }

    /// <summary>The state's key, or null after answering the error (the caller stops).</summary>
    private byte[]? PaxosKey(byte[] ns, byte[] key, Action<string> fail)
    {
        if (PaxosRefusal() is { } refusal)
        {
            fail(refusal);
            return null;
        }
        try
        {
            return VnodeMetaKeys.Paxos(StorageKey(ns, key));
        }
        catch (ArgumentException e)
        {
            fail(e.Message);
            return null;
        }
    }

    /// <summary>
    /// A key's acceptor state arriving with the partition's data (handoff, fill): merged with what
    /// is here (the higher promise, the accepted value of the higher ballot, the committed value of
    /// the higher ballot), so nothing an acceptor of this partition promised or accepted is lost.
    /// </summary>
    private void ReceivePaxosState(WriteBatch write, byte[] key, byte[] incoming)
    {
        var theirs = KvSerializers.DecodeAcceptorState(incoming);
        var ours = LoadPaxos(key);
        var merged = new PaxosAcceptorState(
            Ballot.Max(ours.Promised, theirs.Promised),
            ours.AcceptedBallot >= theirs.AcceptedBallot ? ours.AcceptedBallot : theirs.AcceptedBallot,
            ours.AcceptedBallot >= theirs.AcceptedBallot ? ours.Accepted : theirs.Accepted,
            ours.CommittedBallot >= theirs.CommittedBallot ? ours.CommittedBallot : theirs.CommittedBallot,
            ours.CommittedBallot >= theirs.CommittedBallot ? ours.Committed : theirs.Committed);
        if (merged == ours && _engine!.TryGet(key, out _))
            return;
        if (_paxosPending.TryGetValue(key, out var p))
            _paxosPending[key] = (merged, p.Count);
        write.Put(key, KvSerializers.EncodeAcceptorState(merged));
    }

    private void OnPaxosPrepare(PaxosPrepare m)
    {
        if (Forwarding(m))
            return;
        var sender = Sender;
        void Fail(string error) => sender.Tell(new PaxosPromise(_partition, m.RequestId, false, Ballot.Zero, Ballot.Zero, null, Ballot.Zero, null, error), Self);
        if (PaxosKey(m.Namespace, m.Key, Fail) is not { } key)
            return;
        PaxosAcceptorState state;
        try
        {
            state = LoadPaxos(key);
        }
        catch (Exception e) when (e is FormatException or Google.Protobuf.InvalidProtocolBufferException or StorageCorruptionException or IOException)
        {
            Log.Error(e, $"vnode {_partition}: Paxos state unreadable: {e.Message}");
            Fail($"vnode {_partition}: Paxos state unreadable: {e.Message}");
            return;
        }
        if (m.Ballot <= state.Promised || m.Ballot.IsZero)
        {
            sender.Tell(new PaxosPromise(_partition, m.RequestId, false, state.Promised, state.AcceptedBallot, state.Accepted, state.CommittedBallot, state.Committed, null), Self);
            return;
        }
        var promised = state with { Promised = m.Ballot };
        StorePaxos(key, promised, durable: true, error =>
        {
            if (error is not null)
                Fail($"vnode {_partition}: storing the promise failed: {error.Message}");
            else
                sender.Tell(new PaxosPromise(_partition, m.RequestId, true, promised.Promised, promised.AcceptedBallot, promised.Accepted, promised.CommittedBallot, promised.Committed, null), Self);
        });
    }

    private void OnPaxosPropose(PaxosPropose m)
    {
        if (Forwarding(m))
            return;
        var sender = Sender;
        void Fail(string error) => sender.Tell(new PaxosAccepted(_partition, m.RequestId, false, Ballot.Zero, error), Self);
        if (m.Value.Value.Length > LsmEngine.MaxValueSize - 4096)
        {
            Fail($"a value of {m.Value.Value.Length} bytes is too large for a consistent key");
            return;
        }
        if (PaxosKey(m.Namespace, m.Key, Fail) is not { } key)
            return;
        PaxosAcceptorState state;
        try
        {
            state = LoadPaxos(key);
        }
        catch (Exception e) when (e is FormatException or Google.Protobuf.InvalidProtocolBufferException or StorageCorruptionException or IOException)
        {
            Fail($"vnode {_partition}: Paxos state unreadable: {e.Message}");
            return;
        }
        if (m.Ballot < state.Promised || m.Ballot.IsZero)
        {
            sender.Tell(new PaxosAccepted(_partition, m.RequestId, false, state.Promised, null), Self);
            return;
        }
        // A commit carried along: the value accepted at that ballot was chosen.
        if (!m.Commit.IsZero && state.Accepted is not null && state.AcceptedBallot == m.Commit && m.Commit > state.CommittedBallot)
            state = state with { CommittedBallot = m.Commit, Committed = state.Accepted };
        // Accepting also promises the proposer's next ballot (when it is above this one): its next
        // operation on the key may then go straight to phase 2 at that ballot.
        var accepted = state with { Promised = Ballot.Max(m.Ballot, m.Next), AcceptedBallot = m.Ballot, Accepted = m.Value };
        StorePaxos(key, accepted, durable: true, error =>
        {
            if (error is not null)
                Fail($"vnode {_partition}: storing the accepted value failed: {error.Message}");
            else
                sender.Tell(new PaxosAccepted(_partition, m.RequestId, true, accepted.Promised, null), Self);
        });
    }

    private void OnPaxosCommit(PaxosCommit m)
    {
        if (Forwarding(m))
            return;
        if (PaxosKey(m.Namespace, m.Key, _ => { }) is not { } key)
            return;
        PaxosAcceptorState state;
        try
        {
            state = LoadPaxos(key);
        }
        catch (Exception e) when (e is FormatException or Google.Protobuf.InvalidProtocolBufferException or StorageCorruptionException or IOException)
        {
            return;
        }
        if (m.Ballot <= state.CommittedBallot || m.Ballot.IsZero)
            return;
        // The committed value subsumes an accepted one of a ballot not above it (the newest of the two is the key's value).
        var committed = state.AcceptedBallot <= m.Ballot
            ? state with { CommittedBallot = m.Ballot, Committed = m.Value, AcceptedBallot = Ballot.Zero, Accepted = null }
            : state with { CommittedBallot = m.Ballot, Committed = m.Value };
        StorePaxos(key, committed, durable: false, error =>
        {
            if (error is not null)
                Log.Warning($"vnode {_partition}: storing a Paxos commit failed: {error.Message}");
        });
    }
}
