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
    public static IActorRef On(ActorSystem system, string node, string name) => Resolve(system, node + "/user/" + name);

    /// <summary>The vnode of <paramref name="partition"/> on <paramref name="node"/>.</summary>
    public static IActorRef Vnode(ActorSystem system, string node, int partition) =>
        Resolve(system, node + "/user/" + VnodeManager + "/" + VnodeName(partition));

    // Not Provider.ResolveActorRef(string): Akka.Remote caches that per thread, path to ref, and a
    // local ref that has since stopped stays cached, so a vnode started again (after a handoff, or
    // a restart) would not be reached from that thread: messages went to dead letters.
    private static IActorRef Resolve(ActorSystem system, string path) =>
        ActorPath.TryParse(path, out var actorPath)
            ? ((ExtendedActorSystem)system).Provider.ResolveActorRef(actorPath)
            : ((ExtendedActorSystem)system).DeadLetters;
}
