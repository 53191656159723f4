namespace Kv.Actors.Consistent;

/// <summary>
/// A Paxos ballot: (counter, proposer), totally ordered by counter, then by the proposer's name
/// (ordinal). Each proposer has its own name (its node and incarnation), so two proposers never
/// make the same ballot. <see cref="Zero"/> is below every ballot a proposer makes.
/// </summary>
public readonly record struct Ballot(long Counter, string Proposer) : IComparable<Ballot>
{
    public static readonly Ballot Zero = new(0, "");

    public bool IsZero => Counter == 0 && string.IsNullOrEmpty(Proposer);

    public int CompareTo(Ballot other)
    {
        int c = Counter.CompareTo(other.Counter);
        return c != 0 ? c : string.CompareOrdinal(Proposer ?? "", other.Proposer ?? "");
    }

    public static bool operator >(Ballot a, Ballot b) => a.CompareTo(b) > 0;

    public static bool operator <(Ballot a, Ballot b) => a.CompareTo(b) < 0;

    public static bool operator >=(Ballot a, Ballot b) => a.CompareTo(b) >= 0;

    public static bool operator <=(Ballot a, Ballot b) => a.CompareTo(b) <= 0;

    public static Ballot Max(Ballot a, Ballot b) => a >= b ? a : b;

    public override string ToString() => $"{Counter}:{Proposer}";
}

/// <summary>
/// Makes a proposer's ballots: each above every ballot it made or saw. The counter starts at the
/// clock's milliseconds, so a proposer started again (a new incarnation, a new name anyway) starts
/// above what its predecessor used in the common case; a rejection carries the ballot to beat.
/// Thread-safe (a proposer's operations share one).
/// </summary>
public sealed class BallotClock(string proposer)
{
    private long _counter = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

    public string Proposer { get; } = proposer;

    /// <summary>A new ballot above this clock's last one and above <paramref name="seen"/>.</summary>
    public Ballot Next(Ballot seen)
    {
        while (true)
        {
            long current = Interlocked.Read(ref _counter);
            long next = Math.Max(current, seen.Counter) + 1;
            if (Interlocked.CompareExchange(ref _counter, next, current) == current)
                return new Ballot(next, Proposer);
        }
    }
}

/// <summary>
/// The value a key of a consistent namespace holds, as Paxos agrees on it: present or absent, the
/// bytes and content type, when it was written, and the ids of the last operations applied to it
/// (with an increment's resulting number), so a proposer whose accept went unanswered can tell, on
/// its next round, whether its operation took effect (and never applies it twice).
/// </summary>
public sealed record PaxosValue(bool Present, byte[] Value, string ContentType, long ModifiedMs, IReadOnlyList<(long Op, long Number)> RecentOps)
{
    /// <summary>How many operation ids a value remembers.</summary>
    public const int MaxRecentOps = 64;

    public static readonly PaxosValue Absent = new(false, [], "", 0, []);

    /// <summary>This value after operation <paramref name="op"/> made it <paramref name="present"/>/<paramref name="value"/>.</summary>
    public PaxosValue After(long op, long number, bool present, byte[] value, string contentType, long nowMs)
    {
        var ops = new List<(long, long)>(Math.Min(RecentOps.Count + 1, MaxRecentOps));
        ops.AddRange(RecentOps.Skip(Math.Max(0, RecentOps.Count + 1 - MaxRecentOps)));
        ops.Add((op, number));
        return new PaxosValue(present, present ? value : [], present ? contentType : "", nowMs, ops);
    }

    /// <summary>The number recorded for <paramref name="op"/>, if this value remembers it.</summary>
    public bool Applied(long op, out long number)
    {
        foreach (var (id, n) in RecentOps)
        {
            if (id == op)
            {
                number = n;
                return true;
            }
        }
        number = 0;
        return false;
    }
}

/// <summary>
/// An acceptor's durable state for one key: the highest ballot promised, the last value accepted
/// (and its ballot), the most recent value known committed (and its ballot). Stored in the vnode's
/// engine under <see cref="Vnode.VnodeMetaKeys"/>' Paxos space.
/// </summary>
public sealed record PaxosAcceptorState(Ballot Promised, Ballot AcceptedBallot, PaxosValue? Accepted, Ballot CommittedBallot, PaxosValue? Committed)
{
    public static readonly PaxosAcceptorState Empty = new(Ballot.Zero, Ballot.Zero, null, Ballot.Zero, null);
}
