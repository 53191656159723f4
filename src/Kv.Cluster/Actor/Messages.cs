namespace Kv.Cluster.Actor;

/// <summary>Stops the receiving actor after the messages already in its mailbox.</summary>
public sealed class PoisonPill
{
    /// <summary>The one instance.</summary>
    public static readonly PoisonPill Instance = new();

    private PoisonPill()
    {
    }
}

/// <summary>Makes the receiving actor fail with <see cref="ActorKilledException"/> (its supervisor decides).</summary>
public sealed class Kill
{
    /// <summary>The one instance.</summary>
    public static readonly Kill Instance = new();

    private Kill()
    {
    }
}

/// <summary>Sent when no message arrived within the time set by <c>SetReceiveTimeout</c>.</summary>
public sealed class ReceiveTimeout
{
    /// <summary>The one instance.</summary>
    public static readonly ReceiveTimeout Instance = new();

    private ReceiveTimeout()
    {
    }
}

/// <summary>A watched actor stopped. <see cref="AddressTerminated"/> says its whole system was lost (quarantined or failed).</summary>
public sealed record Terminated(IActorRef ActorRef, bool ExistenceConfirmed, bool AddressTerminated);

/// <summary>Every actor answers <see cref="Identify"/> with <see cref="ActorIdentity"/> (used to resolve selections).</summary>
public sealed record Identify(object? MessageId);

/// <summary>Answer to <see cref="Identify"/>; <see cref="Subject"/> is null when nothing lives at the path.</summary>
public sealed record ActorIdentity(object? MessageId, IActorRef? Subject);

/// <summary>Replies that carry success or failure, e.g. for <c>Ask</c>.</summary>
public static class Status
{
    /// <summary>A success with an optional value.</summary>
    public sealed record Success(object? Status);

    /// <summary>A failure; <c>Ask</c> turns it into a faulted task.</summary>
    public sealed record Failure(Exception Cause);
}
