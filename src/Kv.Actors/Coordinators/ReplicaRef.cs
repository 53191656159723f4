using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One replica of a request: the partition, its node, and the vnode serving it there (a selection of
/// whatever vnode runs there now, see <see cref="KvPaths.Vnode"/>; tests may give an actor ref).
/// </summary>
public sealed record ReplicaRef(int Partition, string Node, ICanTell Vnode);
