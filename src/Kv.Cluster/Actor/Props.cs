namespace Kv.Cluster.Actor;

/// <summary>
/// How to make an actor: a factory (called again at every restart), an optional supervisor
/// strategy for its children and an optional bounded mailbox. Immutable.
/// </summary>
public sealed record Props
{
    private Props(Func<ActorBase> factory, Type actorType)
    {
        Factory = factory;
        ActorType = actorType;
    }

    internal Func<ActorBase> Factory { get; }

    /// <summary>The actor's type (for logs).</summary>
    public Type ActorType { get; }

    /// <summary>Supervisor strategy for the actor's children, overriding the actor's own.</summary>
    public SupervisorStrategy? SupervisorStrategy { get; private init; }

    /// <summary>Mailbox capacity; 0 means unbounded.</summary>
    public int MailboxCapacity { get; private init; }

    /// <summary>How long a sender waits for room in a full bounded mailbox before the message goes to dead letters.</summary>
    public TimeSpan MailboxPushTimeout { get; private init; }

    /// <summary>Messages processed per mailbox run before the thread is given back (0 = system default).</summary>
    public int Throughput { get; private init; }

    /// <summary>Props for an actor made by <paramref name="factory"/>.</summary>
    public static Props Create<TActor>(Func<TActor> factory) where TActor : ActorBase =>
        new(factory, typeof(TActor));

    /// <summary>Props for an actor with a parameterless constructor.</summary>
    public static Props Create<TActor>() where TActor : ActorBase, new() =>
        new(static () => new TActor(), typeof(TActor));

    /// <summary>Same props with a supervisor strategy for the children.</summary>
    public Props WithSupervisorStrategy(SupervisorStrategy strategy) => this with { SupervisorStrategy = strategy };

    /// <summary>
    /// Same props with a bounded mailbox: a sender (Tell) waits up to <paramref name="pushTimeout"/>
    /// for room, then the message goes to dead letters; <c>SendAsync</c> waits without blocking.
    /// </summary>
    public Props WithBoundedMailbox(int capacity, TimeSpan pushTimeout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        return this with { MailboxCapacity = capacity, MailboxPushTimeout = pushTimeout };
    }

    /// <summary>Same props with another per-run throughput.</summary>
    public Props WithThroughput(int throughput)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(throughput);
        return this with { Throughput = throughput };
    }
}
