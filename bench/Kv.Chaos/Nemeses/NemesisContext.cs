using Kv.Client;

namespace Kv.Chaos.Nemeses;

/// <summary>What a nemesis acts on: the node processes, a client for admin requests, the seeded random source, the progress log.</summary>
public sealed record NemesisContext(ClusterUnderTest Cluster, KvClient Control, Random Random, TextWriter Log)
{
    /// <summary>Running member nodes in a random order.</summary>
    public List<NodeProcess> ShuffledRunning()
    {
        var nodes = Cluster.Members.Where(n => n.State == NodeState.Running).ToList();
        Random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(nodes));
        return nodes;
    }

    /// <summary>The largest number of nodes that may be injured at once: a minority of the members.</summary>
    public int Minority => (Cluster.Members.Count() - 1) / 2;

    /// <summary>1..minority nodes, at random.</summary>
    public int HowMany() => Math.Max(1, Random.Next(1, Minority + 1));
}
