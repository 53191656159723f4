using Akka.Actor;

namespace Kv.Actors;

/// <summary>Where the store's actors live on every node, and refs to them on any node.</summary>
public static class KvPaths
{
    public const string Router = "kv";
    public const string RingManager = "kv-ring";
    public const string VnodeManager = "kv-vnodes";
    public const string Admin = "kv-admin";

    public static string VnodeName(int partition) => "vnode-" + partition.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The actor at /user/<paramref name="name"/> on <paramref name="node"/> (a node address).</summary>
    public static IActorRef On(ActorSystem system, string node, string name) =>
        ((ExtendedActorSystem)system).Provider.ResolveActorRef(node + "/user/" + name);

    /// <summary>The vnode of <paramref name="partition"/> on <paramref name="node"/>.</summary>
    public static IActorRef Vnode(ActorSystem system, string node, int partition) =>
        ((ExtendedActorSystem)system).Provider.ResolveActorRef(node + "/user/" + VnodeManager + "/" + VnodeName(partition));
}
