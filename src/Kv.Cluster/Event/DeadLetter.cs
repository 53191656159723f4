using Kv.Cluster.Actor;

namespace Kv.Cluster.Event;

/// <summary>A message that could not be delivered (published on the event stream).</summary>
public sealed record DeadLetter(object Message, IActorRef? Sender, IActorRef Recipient);

/// <summary>A message an actor did not handle (published on the event stream).</summary>
public sealed record UnhandledMessage(object Message, IActorRef? Sender, IActorRef Recipient);
