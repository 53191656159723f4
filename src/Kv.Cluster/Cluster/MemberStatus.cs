namespace Kv.Cluster.Cluster;

/// <summary>Akka's member life cycle. Unreachable is not a status: it is a per-observer flag.</summary>
public enum MemberStatus
{
    Joining,
    WeaklyUp,
    Up,
    Leaving,
    Exiting,
    Down,
    Removed,
}

/// <summary>Merge priority: when two gossips disagree, the higher wins (Removed > Down > Exiting > Leaving > Up > WeaklyUp > Joining).</summary>
public static class MemberStatusOrder
{
    public static int Priority(MemberStatus s) => s switch
    {
        MemberStatus.Removed => 6,
        MemberStatus.Down => 5,
        MemberStatus.Exiting => 4,
        MemberStatus.Leaving => 3,
        MemberStatus.Up => 2,
        MemberStatus.WeaklyUp => 1,
        _ => 0,
    };
}
