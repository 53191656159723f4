namespace Kv.Cluster.Actor;

/// <summary>Well-known refs and the implicit-sender <c>Tell</c>.</summary>
public static class ActorRefs
{
    /// <summary>No sender: replies go to dead letters.</summary>
    public static readonly IActorRef? NoSender;

    /// <summary>Sends with the current actor (if any) as sender, as Akka's implicit sender does.</summary>
    public static void Tell(this ICanTell receiver, object message) =>
        receiver.Tell(message, ActorCell.Current?.Self);

    /// <summary>Sends keeping the original sender of the message being processed.</summary>
    public static void Forward(this ICanTell receiver, object message) =>
        receiver.Tell(message, ActorCell.Current?.Sender);
}
