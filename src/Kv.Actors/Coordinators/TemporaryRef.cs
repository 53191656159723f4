using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// A per-request temporary ref (<see cref="LocalRead"/>, <see cref="LocalWrite"/>, the client's
/// reply refs) that takes a path, and registers it with the provider, only when something asks for
/// its path. A sender that stays in this actor system is answered by reference: the reply goes
/// straight to the object, no path is looked up. Only a ref that leaves the process (serialized
/// into a message to another node, which will answer it by path) or that something compares or
/// hashes needs the path. Making a temporary path (a unique name, an <see cref="ActorPath"/>) and
/// registering and unregistering it (a concurrent dictionary's node and a closure) was a fifth of
/// what a one-node request allocated and cost the registry's lock-free updates twice per ref.
/// </summary>
public abstract class TemporaryRef(IActorRefProvider provider) : MinimalActorRef
{
    private const int Unregistered = 0;
    private const int Registered = 1;
    private const int Closed = 2;
    private const int Registering = 3;

    private ActorPath? _path;
    private int _state;

    public sealed override IActorRefProvider Provider => provider;

    /// <summary>This ref's temporary path; the first request for it registers the ref (unless it is closed).</summary>
    public sealed override ActorPath Path
    {
        get
        {
            var path = Volatile.Read(ref _path);
            if (path is null)
            {
                var fresh = provider.TempPath();
                path = Interlocked.CompareExchange(ref _path, fresh, null) ?? fresh;
            }
            if (Volatile.Read(ref _state) == Unregistered && Interlocked.CompareExchange(ref _state, Registering, Unregistered) == Unregistered)
            {
                provider.RegisterTempActor(this, path);
                // Closed while registering: the closer left the unregistering to us.
                if (Interlocked.CompareExchange(ref _state, Registered, Registering) != Registering)
                    provider.UnregisterTempActor(path);
            }
            return path;
        }
    }

    /// <summary>Whether the path was asked for (and so registered) at some point: for tests.</summary>
    internal bool HasPath => Volatile.Read(ref _path) is not null;

    /// <summary>Ends the registration, if there was one; later requests for the path do not register it again.</summary>
    protected void Close()
    {
        if (Interlocked.Exchange(ref _state, Closed) == Registered)
            provider.UnregisterTempActor(_path!);
    }
}
