using Kv.Cluster.Actor;

namespace Kv.Cluster.Dispatch;

/// <summary>
/// Brings the continuations of an actor's async handler back into the actor (as system messages),
/// so code after <c>await</c> runs one-at-a-time with the actor and sees its Self and Sender.
/// </summary>
internal sealed class ActorSynchronizationContext(ActorCell cell) : SynchronizationContext
{
    public override void Post(SendOrPostCallback d, object? state) => cell.PostContinuation(d, state);

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("synchronous Send into an actor would deadlock");

    public override SynchronizationContext CreateCopy() => this;
}
