using Kv.Cluster.Dispatch;
using Kv.Cluster.Event;

namespace Kv.Cluster.Actor;

/// <summary>The parent of the root guardian: a root failure stops the root; the root's stop ends the system.</summary>
internal sealed class RootSupervisorRef(ActorSystem system, ActorPath path) : InternalActorRef
{
    public override ActorPath Path { get; } = path;

    public override bool IsLocal => true;

    internal override ActorSystem? OwningSystem => system;

    public override void Tell(object message, IActorRef? sender)
    {
    }

    internal override void SendSystemMessage(SystemMessage message)
    {
        switch (message)
        {
            case Failed f:
                system.Log.Error(f.Cause, $"the root guardian failed; stopping the system: {f.Cause.Message}");
                ((InternalActorRef)f.Child).Stop();
                break;
            case ChildTerminated:
                system.OnRootTerminated();
                break;
        }
    }
}
