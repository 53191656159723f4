using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One replica of a request: the partition, its node, and the vnode serving it there (a selection of
/// whatever vnode runs there now, see <see cref="KvPaths.Vnode"/>; tests may give an actor ref).
/// A fallback (sloppy quorum) stands in for the partition's primary <see cref="HintFor"/>, which is
/// away: <see cref="Node"/> is the fallback node and <see cref="Vnode"/> its hint store.
/// </summary>
public sealed record ReplicaRef(int Partition, string Node, ICanTell Vnode, string? HintFor = null)
{
    public bool IsFallback => HintFor is not null;
}

/// <summary>Lookups over a request's replicas.</summary>
public static class ReplicaRefs
{
    /// <summary>The index of the replica of <paramref name="partition"/>, or -1.</summary>
    public static int IndexOf(this IReadOnlyList<ReplicaRef> replicas, int partition)
    {
        for (int i = 0; i < replicas.Count; i++)
        {
            if (replicas[i].Partition == partition)
                return i;
        }
        return -1;
    }
}
