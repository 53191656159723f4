namespace Kv.Cluster.Actor;

/// <summary>
/// An actor whose behaviour is a list of typed handlers registered in its constructor
/// (<c>Receive&lt;T&gt;</c>, <c>ReceiveAsync&lt;T&gt;</c>, <c>ReceiveAny</c>). The first matching handler wins.
/// </summary>
public abstract class ReceiveActor : ActorBase
{
    private List<Handler> _handlers = [];
    private List<Handler>? _building;
    private readonly Stack<List<Handler>> _stack = new();

    /// <summary>Handles messages of type <typeparamref name="T"/>.</summary>
    protected void Receive<T>(Action<T> handler) => Add(new SyncHandler<T>(handler, null));

    /// <summary>Handles messages of type <typeparamref name="T"/> that satisfy <paramref name="when"/>.</summary>
    protected void Receive<T>(Predicate<T> when, Action<T> handler) => Add(new SyncHandler<T>(handler, when));

    /// <summary>
    /// Handles messages of type <typeparamref name="T"/> with an async handler. The actor takes no other
    /// user message until the task completes (ordering is kept); continuations run inside the actor,
    /// so Self, Sender and Context stay valid after await.
    /// </summary>
    protected void ReceiveAsync<T>(Func<T, Task> handler) => Add(new AsyncHandler<T>(handler));

    /// <summary>Handles any message not handled by an earlier handler.</summary>
    protected void ReceiveAny(Action<object> handler) => Add(new SyncHandler<object>(handler, null));

    private void Add(Handler h) => (_building ?? _handlers).Add(h);

    /// <summary>Replaces the handlers with those <paramref name="configure"/> registers.</summary>
    protected void Become(Action configure) => Context.Become(configure);

    /// <inheritdoc />
    protected sealed override bool Receive(object message)
    {
        var handlers = _handlers;
        for (int i = 0; i < handlers.Count; i++)
        {
            if (handlers[i].TryHandle(this, message))
                return true;
        }
        return false;
    }

    internal void SetBehaviour(Action configure, bool stacked)
    {
        _building = [];
        try
        {
            configure();
            if (stacked)
                _stack.Push(_handlers);
            _handlers = _building;
        }
        finally
        {
            _building = null;
        }
    }

    internal void PopBehaviour()
    {
        if (_stack.Count > 0)
            _handlers = _stack.Pop();
    }

    private abstract class Handler
    {
        public abstract bool TryHandle(ReceiveActor actor, object message);
    }

    private sealed class SyncHandler<T>(Action<T> handler, Predicate<T>? when) : Handler
    {
        public override bool TryHandle(ReceiveActor actor, object message)
        {
            if (message is not T t || (when is not null && !when(t)))
                return false;
            handler(t);
            return true;
        }
    }

    private sealed class AsyncHandler<T>(Func<T, Task> handler) : Handler
    {
        public override bool TryHandle(ReceiveActor actor, object message)
        {
            if (message is not T t)
                return false;
            actor.Cell.RunAsyncHandler(handler, t);
            return true;
        }
    }
}
