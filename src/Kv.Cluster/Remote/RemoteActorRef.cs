using Kv.Cluster.Actor;
using Kv.Cluster.Dispatch;

namespace Kv.Cluster.Remote;

/// <summary>A ref to an actor in another system. Equal to every other remote ref with the same path.</summary>
public sealed class RemoteActorRef : InternalActorRef
{
    private readonly RemoteTransport _transport;

    internal RemoteActorRef(RemoteTransport transport, ActorPath path)
    {
        _transport = transport;
        Path = path;
        WirePath = path.ToStringWithoutAddress();
        WirePathUtf8 = System.Text.Encoding.UTF8.GetBytes(WirePath);
    }

    /// <inheritdoc />
    public override ActorPath Path { get; }

    internal string WirePath { get; }

    internal byte[] WirePathUtf8 { get; }

    /// <inheritdoc />
    public override bool IsLocal => false;

    internal override ActorSystem? OwningSystem => _transport.System;

    /// <inheritdoc />
    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        _transport.Send(this, message, sender);
    }

    internal override void SendSystemMessage(SystemMessage message) => _transport.SendSystem(this, message);

    /// <summary>Asks the remote actor to stop (a PoisonPill: it stops after the messages before it).</summary>
    public override void Stop() => Tell(PoisonPill.Instance, null);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RemoteActorRef other && other.Path.Equals(Path);

    /// <inheritdoc />
    public override int GetHashCode() => Path.GetHashCode();
}
