using Akka.Actor;

namespace Kv.Actors;

/// <summary>Where the store's actors live on every node, and refs to them on any node.</summary>
public static class KvPaths
{
    public const string Router = "kv";
    public const string RingManager = "kv-ring";
    public const string VnodeManager = "kv-vnodes";
    public const string Admin = "kv-admin";
    public const string HintStore = "kv-hints";
    public const string Aae = "kv-aae";
    public const string Users = "kv-users";

    public static string VnodeName(int partition) => "vnode-" + partition.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The actor at /user/<paramref name="name"/> on <paramref name="node"/> (a node address).</summary>
    public static IActorRef On(ActorSystem system, string node, string name) => Resolve(system, node + "/user/" + name);

    /// <summary>
    /// Whatever vnode of <paramref name="partition"/> runs on <paramref name="node"/> now: a selection,
    /// looked up at the node when each message arrives, not a ref. A vnode stops and starts again
    /// under the same name (after a handoff it is retired, and it comes back fresh when the ring
    /// gives the partition back), and a ref names one incarnation: a ref that Akka resolved once
    /// and cached keeps naming the stopped one. Akka.Remote resolves the recipient of every inbound
    /// message through such a cache (per thread, path to ref, never dropping a stopped local ref),
    /// so messages sent by path to a vnode started again went to dead letters on the threads that
    /// had cached the old one. A selection is delivered to the node's root and walks the live tree.
    /// </summary>
    public static ActorSelection Vnode(ActorSystem system, string node, int partition) =>
        system.ActorSelection(node + "/user/" + VnodeManager + "/" + VnodeName(partition));

    /// <summary>
    /// Whatever vnode of <paramref name="partition"/> runs on this node now, as <see cref="Vnode"/>
    /// finds it but without walking the tree per message: the ref found is kept while its actor
    /// lives, and looked up again (by a walk of the live tree, not through Akka's per-thread cache)
    /// once it stopped. Until a new one runs, messages go through the selection, as before.
    /// </summary>
    public static ICanTell LocalVnode(ActorSystem system, int partition) => new LocalVnodeTarget(system, partition);

    private sealed class LocalVnodeTarget(ActorSystem system, int partition) : ICanTell
    {
        private readonly string[] _names = [VnodeManager, VnodeName(partition)];
        private readonly ActorSelection _selection = system.ActorSelection("/user/" + VnodeManager + "/" + VnodeName(partition));
        private IInternalActorRef? _current;

        // IsTerminated is read, not watched: a Terminated message would leave a window in which
        // messages still went to the stopped vnode (its dead letters) while it was on its way.
#pragma warning disable CS0618
        public void Tell(object message, IActorRef sender)
        {
            var target = Volatile.Read(ref _current);
            if (target is null || target.IsTerminated)
            {
                target = (IInternalActorRef)((ExtendedActorSystem)system).Guardian.GetChild(_names);
                if (target.IsNobody() || target.IsTerminated)
                {
                    Volatile.Write(ref _current, null);
                    _selection.Tell(message, sender);
                    return;
                }
                Volatile.Write(ref _current, target);
            }
            target.Tell(message, sender);
        }
#pragma warning restore CS0618
    }

    // Not Provider.ResolveActorRef(string): that goes through the same per-thread cache. (The
    // actors reached by a ref live as long as their node's actor system.)
    private static IActorRef Resolve(ActorSystem system, string path) =>
        ActorPath.TryParse(path, out var actorPath)
            ? ((ExtendedActorSystem)system).Provider.ResolveActorRef(actorPath)
            : ((ExtendedActorSystem)system).DeadLetters;
}
