using System.Globalization;
using Akka.Cluster.Sharding;

namespace Kv.Actors.Consistent;

/// <summary>Sharding's view of a <see cref="ConsistentRequest"/>: entity id = shard id = the key's partition.</summary>
public sealed class PaxosMessageExtractor : IMessageExtractor
{
    public string? EntityId(object message) => message is ConsistentRequest r ? r.Partition.ToString(CultureInfo.InvariantCulture) : null;

    public object? EntityMessage(object message) => message;

    public string? ShardId(object message) => EntityId(message);

    public string ShardId(string entityId, object? messageHint = null) => entityId;
}
