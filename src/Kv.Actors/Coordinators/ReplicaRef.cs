using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>One replica of a request: the partition, its node, and the vnode actor serving it there.</summary>
public sealed record ReplicaRef(int Partition, string Node, IActorRef Vnode);
