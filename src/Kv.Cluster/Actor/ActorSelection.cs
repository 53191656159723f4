namespace Kv.Cluster.Actor;

/// <summary>
/// An actor named by path rather than by ref (local <c>/user/a</c> or remote
/// <c>kv://sys@host:port/user/a</c>). Each send resolves the path again.
/// </summary>
public sealed class ActorSelection : ICanTell
{
    internal ActorSelection(ActorSystem system, ActorPath path)
    {
        System = system;
        Path = path;
    }

    internal ActorSystem System { get; }

    /// <summary>The selected path.</summary>
    public ActorPath Path { get; }

    /// <inheritdoc />
    public void Tell(object message, IActorRef? sender) => System.ResolveActorRef(Path).Tell(message, sender);

    /// <summary>Resolves the path to a live actor with <see cref="Identify"/>; fails with <see cref="ActorNotFoundException"/>.</summary>
    public async Task<IActorRef> ResolveOne(TimeSpan timeout)
    {
        ActorIdentity identity;
        try
        {
            identity = await this.Ask<ActorIdentity>(new Identify(null), timeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException e)
        {
            throw new ActorNotFoundException($"no actor answered at {Path} within {timeout.TotalMilliseconds:0} ms", e);
        }
        return identity.Subject ?? throw new ActorNotFoundException($"no actor lives at {Path}");
    }

    /// <inheritdoc />
    public override string ToString() => $"ActorSelection[{Path}]";
}

/// <summary>A selection did not resolve.</summary>
public sealed class ActorNotFoundException(string message, Exception? inner = null) : ActorException(message, inner);
