using Kv.Cluster.Actor;

namespace Kv.Cluster.Cluster;

/// <summary>Local commands and ticks of the cluster daemon.</summary>
internal static class ClusterCommands
{
    public sealed record JoinTo(Address Address);
    public sealed record JoinSeedNodes(IReadOnlyList<Address> Seeds);
    public sealed record Leave(Address Address);
    public sealed record Down(Address Address);
    public sealed record DownMembers(IReadOnlyList<UniqueAddress> Nodes, string Reason);
    public sealed record MarkUnreachable(UniqueAddress Node);
    public sealed record MarkReachable(UniqueAddress Node);
    public sealed record Subscribe(IActorRef Subscriber, bool InitialStateAsEvents, Type[] To);
    public sealed record Unsubscribe(IActorRef Subscriber);
    public sealed record GossipUpdated(Gossip Gossip);
    public sealed record MonitoredMembers(IReadOnlyList<UniqueAddress> Members);

    public sealed class GossipTick
    {
        public static readonly GossipTick Instance = new();
    }

    public sealed class LeaderActionsTick
    {
        public static readonly LeaderActionsTick Instance = new();
    }

    public sealed class JoinRetryTick
    {
        public static readonly JoinRetryTick Instance = new();
    }

    public sealed class FirstSeedTimeout
    {
        public static readonly FirstSeedTimeout Instance = new();
    }

    public sealed class ShutdownSelf
    {
        public static readonly ShutdownSelf Instance = new();
    }
}
