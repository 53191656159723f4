using Google.Protobuf;
using Kv.Actors.Consistent;
using Kv.Actors.Protos;

namespace Kv.Actors.Wire;

/// <summary>
/// Wire types of consistent namespaces (ids 300..319): CAS and its answer, a consistent operation
/// on its way to its proposer, and the Paxos messages between proposers and acceptors (vnodes).
/// The acceptor state a vnode stores uses the same encoding (<see cref="EncodeAcceptorState"/>).
/// </summary>
internal static partial class KvSerializers
{
    private static void AddConsistent(Dictionary<int, IWireCodec> registry)
    {
        Add<KvCas, KvCasData>(registry, 300,
            m => new KvCasData
            {
                Ns = Bytes(m.Namespace), Key = Bytes(m.Key), HasExpected = m.Expected is not null, Expected = Bytes(m.Expected ?? []),
                NewValue = Bytes(m.NewValue), Options = ToWire(m.Options),
            },
            d => new KvCas(d.Ns.ToByteArray(), d.Key.ToByteArray(), d.HasExpected ? d.Expected.ToByteArray() : null, d.NewValue.ToByteArray(), FromWire(d.Options)));
        Add<CasReply, CasReplyData>(registry, 301,
            m => new CasReplyData { Succeeded = m.Succeeded, HasCurrent = m.Current is not null, Current = Bytes(m.Current ?? []) },
            d => new CasReply(d.Succeeded, d.HasCurrent ? d.Current.ToByteArray() : null));
        Add<ConsistentRequest, ConsistentRequestData>(registry, 302,
            m => new ConsistentRequestData
            {
                Partition = m.Partition, Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Op = ToWire(m.Op), TimeoutMs = m.TimeoutMs,
                Primaries = { m.Primaries.Select(p => new ConsistentPrimaryData { Partition = p.Partition, Node = p.Node }) },
            },
            d => new ConsistentRequest(d.Partition, d.Ns.ToByteArray(), d.Key.ToByteArray(), d.Primaries.Select(p => (p.Partition, p.Node)).ToList(),
                FromWire(d.Op ?? throw new FormatException("operation missing")), d.TimeoutMs));
        Add<PaxosPrepare, PaxosPrepareData>(registry, 303,
            m => new PaxosPrepareData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Ballot = ToWire(m.Ballot), RequestId = m.RequestId },
            d => new PaxosPrepare(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Ballot), d.RequestId));
        Add<PaxosPromise, PaxosPromiseData>(registry, 304,
            m => new PaxosPromiseData
            {
                Partition = m.Partition, RequestId = m.RequestId, Ok = m.Ok, HasError = m.Error is not null, Error = m.Error ?? "",
                State = ToWire(new PaxosAcceptorState(m.Promised, m.AcceptedBallot, m.Accepted, m.CommittedBallot, m.Committed)),
            },
            d =>
            {
                var s = FromWire(d.State ?? new PaxosAcceptorData());
                return new PaxosPromise(d.Partition, d.RequestId, d.Ok, s.Promised, s.AcceptedBallot, s.Accepted, s.CommittedBallot, s.Committed, d.HasError ? d.Error : null);
            });
        Add<PaxosPropose, PaxosProposeData>(registry, 305,
            m => new PaxosProposeData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Ballot = ToWire(m.Ballot), Value = ToWire(m.Value), RequestId = m.RequestId, Next = m.Next.IsZero ? null : ToWire(m.Next), Commit = m.Commit.IsZero ? null : ToWire(m.Commit) },
            d => new PaxosPropose(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Ballot), FromWire(d.Value ?? throw new FormatException("value missing")), d.RequestId) { Next = FromWire(d.Next), Commit = FromWire(d.Commit) });
        Add<PaxosAccepted, PaxosAcceptedData>(registry, 306,
            m => new PaxosAcceptedData { Partition = m.Partition, RequestId = m.RequestId, Ok = m.Ok, Promised = ToWire(m.Promised), HasError = m.Error is not null, Error = m.Error ?? "" },
            d => new PaxosAccepted(d.Partition, d.RequestId, d.Ok, FromWire(d.Promised), d.HasError ? d.Error : null));
        Add<PaxosCommit, PaxosCommitData>(registry, 307,
            m => new PaxosCommitData { Ns = Bytes(m.Namespace), Key = Bytes(m.Key), Ballot = ToWire(m.Ballot), Value = ToWire(m.Value) },
            d => new PaxosCommit(d.Ns.ToByteArray(), d.Key.ToByteArray(), FromWire(d.Ballot), FromWire(d.Value ?? throw new FormatException("value missing"))));
    }

    /// <summary>The bytes a vnode stores for an acceptor's state.</summary>
    public static byte[] EncodeAcceptorState(PaxosAcceptorState state) => ToWire(state).ToByteArray();

    /// <summary>An acceptor's state from its stored bytes (a FormatException or InvalidProtocolBufferException if they are not one).</summary>
    public static PaxosAcceptorState DecodeAcceptorState(ReadOnlySpan<byte> bytes) => FromWire(PaxosAcceptorData.Parser.ParseFrom(bytes));

    private static BallotData ToWire(Ballot b) => new() { Counter = b.Counter, Proposer = b.Proposer ?? "" };

    private static Ballot FromWire(BallotData? d) => d is null ? Ballot.Zero : new Ballot(d.Counter, d.Proposer);

    private static PaxosValueData ToWire(PaxosValue v) => new()
    {
        Present = v.Present, Value = Bytes(v.Value), ContentType = v.ContentType, ModifiedMs = v.ModifiedMs,
        OpIds = { v.RecentOps.Select(o => o.Op) }, OpNumbers = { v.RecentOps.Select(o => o.Number) },
    };

    private static PaxosValue FromWire(PaxosValueData d)
    {
        if (d.OpIds.Count != d.OpNumbers.Count || d.OpIds.Count > PaxosValue.MaxRecentOps)
            throw new FormatException($"a Paxos value with {d.OpIds.Count} operation ids and {d.OpNumbers.Count} numbers (at most {PaxosValue.MaxRecentOps})");
        return new PaxosValue(d.Present, d.Present ? d.Value.ToByteArray() : [], d.ContentType, d.ModifiedMs, d.OpIds.Zip(d.OpNumbers).ToList());
    }

    private static PaxosAcceptorData ToWire(PaxosAcceptorState s) => new()
    {
        Promised = ToWire(s.Promised),
        AcceptedBallot = ToWire(s.AcceptedBallot), HasAccepted = s.Accepted is not null, Accepted = s.Accepted is null ? null : ToWire(s.Accepted),
        CommittedBallot = ToWire(s.CommittedBallot), HasCommitted = s.Committed is not null, Committed = s.Committed is null ? null : ToWire(s.Committed),
    };

    private static PaxosAcceptorState FromWire(PaxosAcceptorData d) => new(
        FromWire(d.Promised),
        FromWire(d.AcceptedBallot), d.HasAccepted ? FromWire(d.Accepted ?? throw new FormatException("accepted value missing")) : null,
        FromWire(d.CommittedBallot), d.HasCommitted ? FromWire(d.Committed ?? throw new FormatException("committed value missing")) : null);

    private static ConsistentOpData ToWire(ConsistentOp op) => new()
    {
        Kind = (int)op.Kind, Value = Bytes(op.Value), ContentType = op.ContentType, HasExpected = op.Expected is not null, Expected = Bytes(op.Expected ?? []), By = op.By,
    };

    private static ConsistentOp FromWire(ConsistentOpData d) =>
        Enum.IsDefined((ConsistentOpKind)d.Kind)
            ? new ConsistentOp((ConsistentOpKind)d.Kind, d.Value.ToByteArray(), d.ContentType, d.HasExpected ? d.Expected.ToByteArray() : null, d.By)
            : throw new FormatException($"unknown consistent operation {d.Kind}");
}
