using Akka.Actor;

namespace Kv.Actors.Ring;

/// <summary>
/// An actor that follows the node's ring: asks the ring manager for it at start, then keeps the
/// newest version published on the event stream (<see cref="RingChanged"/>) in <see cref="KnownRing"/>,
/// and whether the node serves requests yet (<see cref="ServingChanged"/>) in <see cref="Serving"/>.
/// </summary>
public abstract class RingFollower : ReceiveActor
{
    protected RingFollower()
    {
        Receive<RingChanged>(m => Adopt(m.Ring));
        Receive<CurrentRing>(m =>
        {
            if (m.Ring is not null)
                Adopt(m.Ring);
        });
        Receive<ServingChanged>(m =>
        {
            if (m.Serving)
                Serving = true;
        });
    }

    /// <summary>The newest ring seen (null until the first arrives).</summary>
    protected Ring? KnownRing { get; private set; }

    /// <summary>Whether this node serves requests (see <see cref="ServingChanged"/>); once it does, it does until it stops.</summary>
    protected bool Serving { get; private set; }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(RingChanged));
        Context.System.EventStream.Subscribe(Self, typeof(ServingChanged));
        var ringManager = Context.System.ActorSelection("/user/" + KvPaths.RingManager);
        ringManager.Tell(GetRing.Instance, Self);
        ringManager.Tell(GetServing.Instance, Self);
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Adopt(Ring ring)
    {
        if (KnownRing is null || ring.Supersedes(KnownRing))
            KnownRing = ring;
    }
}
