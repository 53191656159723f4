using Kv.Cluster.Actor;

namespace Kv.Cluster.Event;

/// <summary>
/// Publish/subscribe by type inside one actor system: a subscriber gets every published event
/// assignable to the type it subscribed to. Subscriptions are a copy-on-write array, so
/// publishing takes no lock. Stopped subscribers are dropped as they are found.
/// </summary>
public sealed class EventStream
{
    private readonly Lock _lock = new();
    private Subscription[] _subscriptions = [];

    private sealed record Subscription(Type Channel, IActorRef? Actor, Action<object>? Callback);

    /// <summary>Subscribes an actor to events of <paramref name="channel"/> (and subtypes). False if already subscribed.</summary>
    public bool Subscribe(IActorRef subscriber, Type channel)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_lock)
        {
            foreach (var s in _subscriptions)
            {
                if (s.Channel == channel && Equals(s.Actor, subscriber))
                    return false;
            }
            _subscriptions = [.. _subscriptions, new Subscription(channel, subscriber, null)];
            return true;
        }
    }

    /// <summary>Subscribes a callback (runtime internals; keep it short and non-blocking). Dispose to unsubscribe.</summary>
    public IDisposable Subscribe<T>(Action<T> callback)
    {
        var sub = new Subscription(typeof(T), null, o => callback((T)o));
        lock (_lock)
            _subscriptions = [.. _subscriptions, sub];
        return new Unsubscriber(this, sub);
    }

    /// <summary>Removes one subscription of the actor.</summary>
    public bool Unsubscribe(IActorRef subscriber, Type channel) =>
        Remove(s => s.Channel == channel && Equals(s.Actor, subscriber));

    /// <summary>Removes every subscription of the actor.</summary>
    public bool Unsubscribe(IActorRef subscriber) => Remove(s => Equals(s.Actor, subscriber));

    private bool Remove(Predicate<Subscription> match)
    {
        lock (_lock)
        {
            var kept = Array.FindAll(_subscriptions, s => !match(s));
            bool removed = kept.Length != _subscriptions.Length;
            _subscriptions = kept;
            return removed;
        }
    }

    /// <summary>True when someone listens for events of exactly or above <paramref name="type"/>.</summary>
    public bool HasSubscribers(Type type)
    {
        foreach (var s in _subscriptions)
        {
            if (s.Channel.IsAssignableFrom(type))
                return true;
        }
        return false;
    }

    /// <summary>Delivers <paramref name="event"/> to every matching subscriber.</summary>
    public void Publish(object @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        var type = @event.GetType();
        bool sawDead = false;
        foreach (var s in _subscriptions)
        {
            if (!s.Channel.IsAssignableFrom(type))
                continue;
            if (s.Callback is not null)
            {
                s.Callback(@event);
            }
            else if (s.Actor is LocalActorRef { IsTerminated: true })
            {
                sawDead = true;
            }
            else
            {
                s.Actor!.Tell(@event, null);
            }
        }
        if (sawDead)
            Remove(s => s.Actor is LocalActorRef { IsTerminated: true });
    }

    private sealed class Unsubscriber(EventStream stream, Subscription subscription) : IDisposable
    {
        public void Dispose() => stream.Remove(s => ReferenceEquals(s, subscription));
    }
}
