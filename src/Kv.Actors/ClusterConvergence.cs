using Akka.Cluster;
using static Akka.Cluster.ClusterEvent;

namespace Kv.Actors;

/// <summary>
/// Akka.Cluster's gossip convergence as a member sees it: nobody unreachable, and every member
/// not yet removed has seen the current gossip (the condition under which Akka's leader acts).
/// The claimant acts on the ring only then.
/// </summary>
public static class ClusterConvergence
{
    public static bool Of(CurrentClusterState state) =>
        state.Unreachable.Count == 0 &&
        state.Members.All(m => m.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed || state.SeenBy.Contains(m.Address));
}
