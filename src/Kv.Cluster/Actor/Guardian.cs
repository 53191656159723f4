namespace Kv.Cluster.Actor;

/// <summary>The /user and /system guardians: parents of top-level actors, with the default strategy.</summary>
internal sealed class Guardian : ActorBase
{
    protected override bool Receive(object message) => false;

    protected override void Unhandled(object message)
    {
    }
}
