using Kv.Cluster.Actor;
using Kv.Cluster.Cluster.Protos;

namespace Kv.Cluster.Cluster;

/// <summary>Answers heartbeat requests (/system/cluster/heartbeatReceiver).</summary>
internal sealed class ClusterHeartbeatReceiver : ReceiveActor
{
    public ClusterHeartbeatReceiver(UniqueAddress self)
    {
        var me = GossipCodec.ToProto(self);
        Receive<HeartbeatData>(h => Sender.Tell(new HeartbeatResponseData { From = me, Sequence = h.Sequence }, Self));
    }
}
