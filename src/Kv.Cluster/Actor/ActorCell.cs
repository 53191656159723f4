using System.Runtime.ExceptionServices;
using Kv.Cluster.Dispatch;
using Kv.Cluster.Event;

namespace Kv.Cluster.Actor;

/// <summary>
/// The runtime half of an actor: its mailbox, children, watches, stash, behaviour and failure state.
/// Everything here runs on the actor's own mailbox run (one thread at a time), except the
/// thread-safe child lookup used by path resolution.
/// </summary>
internal sealed partial class ActorCell : IActorContext, IStash
{
    [ThreadStatic]
    private static ActorCell? _current;

    private readonly Mailbox _mailbox;
    private ActorBase? _actor;
    private object? _currentMessage;
    private IActorRef? _currentSender;
    private ILoggingAdapter? _log;

    public ActorCell(ActorSystem system, Props props, InternalActorRef parent, ActorPath path)
    {
        System = system;
        Props = props;
        Parent = parent;
        Self = new LocalActorRef(this, path);
        int throughput = props.Throughput > 0 ? props.Throughput : system.Options.Throughput;
        _mailbox = new Mailbox(this, throughput, props.MailboxCapacity, props.MailboxPushTimeout);
    }

    /// <summary>The cell whose mailbox run is on this thread, if any.</summary>
    public static ActorCell? Current => _current;

    public ActorSystem System { get; }

    public Props Props { get; }

    public InternalActorRef Parent { get; }

    IActorRef IActorContext.Parent => Parent;

    public LocalActorRef Self { get; }

    IActorRef IActorContext.Self => Self;

    public IActorRef Sender => _currentSender ?? System.DeadLetters;

    public ILoggingAdapter Log => _log ??= System.CreateLogger(Self.Path.ToString());

    internal Mailbox Mailbox => _mailbox;

    public bool IsTerminated { get; private set; }

    /// <summary>Starts the actor: its constructor and PreStart run on its first mailbox run.</summary>
    public void Start() => _mailbox.PostSystem(new Create());

    internal void BindActor(ActorBase actor)
    {
        if (_actor is not null && !_creating)
            throw new ActorException("an actor instance is already bound to this cell");
        _actor = actor;
    }

    private bool _creating;

    private void NewActor()
    {
        _actor = null;
        _creating = true;
        var previous = _current;
        _current = this;
        try
        {
            var instance = Props.Factory();
            if (!ReferenceEquals(instance, _actor))
                throw new ActorException($"the factory of {Props.ActorType.Name} did not create a new actor instance");
        }
        finally
        {
            _creating = false;
            _current = previous;
        }
    }

    /// <summary>Processes one user message.</summary>
    public void Invoke(Envelope envelope)
    {
        var previous = _current;
        _current = this;
        _currentMessage = envelope.Message;
        _currentSender = envelope.Sender;
        try
        {
            var actor = _actor;
            if (actor is null)
            {
                System.DeadLetters.Tell(new DeadLetter(envelope.Message, envelope.Sender, Self), envelope.Sender);
                return;
            }
            switch (envelope.Message)
            {
                case PoisonPill:
                    BeginTerminate();
                    break;
                case Kill:
                    throw new ActorKilledException("Kill");
                case Identify identify:
                    Sender.Tell(new ActorIdentity(identify.MessageId, Self), Self);
                    break;
                case Terminated t:
                    if (_terminatedQueued is not null && _terminatedQueued.Remove(t.ActorRef))
                        ReceiveMessage(actor, t);
                    break;
                default:
                    ReceiveMessage(actor, envelope.Message);
                    break;
            }
        }
        catch (Exception e)
        {
            HandleInvokeFailure(e, alreadySuspended: false);
        }
        finally
        {
            _currentMessage = null;
            _currentSender = null;
            _current = previous;
            if (_receiveTimeout is not null && !_terminating)
                ResetReceiveTimeout();
        }
    }

    private static void ReceiveMessage(ActorBase actor, object message)
    {
        if (!actor.AroundReceive(message))
            actor.AroundUnhandled(message);
    }

    /// <summary>Processes one system message.</summary>
    public void InvokeSystem(SystemMessage message)
    {
        var previous = _current;
        _current = this;
        try
        {
            switch (message)
            {
                case Create:
                    OnCreate();
                    break;
                case Terminate:
                    BeginTerminate();
                    break;
                case Failed f:
                    OnChildFailed(f);
                    break;
                case Resume r:
                    OnResume(r);
                    break;
                case Recreate r:
                    OnRecreate(r.Cause);
                    break;
                case ChildTerminated c:
                    OnChildTerminated(c.Child);
                    break;
                case Watch w:
                    OnWatch(w);
                    break;
                case Unwatch u:
                    OnUnwatch(u);
                    break;
                case DeathWatchNotification d:
                    OnDeathWatchNotification(d);
                    break;
                case RunContinuation rc:
                    OnRunContinuation(rc);
                    break;
                case AsyncHandlerCompleted done:
                    OnAsyncHandlerCompleted(done);
                    break;
            }
        }
        catch (Exception e)
        {
            // A hook (PreStart, PostRestart...) threw: the actor fails like on a message.
            HandleInvokeFailure(e, alreadySuspended: false);
        }
        finally
        {
            _current = previous;
        }
    }

    internal void SendSystemMessage(SystemMessage message) => _mailbox.PostSystem(message);

    private void OnCreate()
    {
        try
        {
            NewActor();
            _actor!.AroundPreStart();
        }
        catch (Exception e)
        {
            HandleInvokeFailure(new ActorInitializationException(Self, $"{Props.ActorType.Name} at {Self.Path} failed to start: {e.Message}", e), alreadySuspended: false);
        }
    }

    // ---- async handlers -------------------------------------------------------------------

    private ActorSynchronizationContext? _syncContext;
    private Task? _pendingAsync;

    internal void RunAsyncHandler<T>(Func<T, Task> handler, T message)
    {
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_syncContext ??= new ActorSynchronizationContext(this));
        Task task;
        _asyncSender = _currentSender;
        try
        {
            task = handler(message);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
        if (task.IsCompleted)
        {
            if (task.IsFaulted || task.IsCanceled)
                ExceptionDispatchInfo.Capture(Unwrap(task)).Throw();
            return;
        }
        // Hold user messages until the handler finishes; system messages go on.
        _mailbox.SuspendUser();
        _pendingAsync = task;
        var sender = _currentSender;
        var asyncMessage = _currentMessage;
        task.ContinueWith(
            static (t, state) =>
            {
                var (cell, sender, message) = ((ActorCell, IActorRef?, object?))state!;
                cell._mailbox.PostSystem(new AsyncHandlerCompleted(t, sender, message));
            },
            (this, sender, asyncMessage),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static Exception Unwrap(Task task) =>
        task.Exception?.InnerExceptions.Count == 1 ? task.Exception.InnerException! : (Exception?)task.Exception ?? new TaskCanceledException(task);

    private volatile IActorRef? _asyncSender;

    /// <summary>Called by the actor's synchronization context when an awaited task resumes.</summary>
    internal void PostContinuation(SendOrPostCallback callback, object? state) =>
        _mailbox.PostSystem(new RunContinuation(callback, state, _asyncSender));

    private void OnRunContinuation(RunContinuation rc)
    {
        if (IsTerminated)
            return;
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_syncContext);
        _currentSender = rc.Sender;
        try
        {
            rc.Callback(rc.State);
        }
        finally
        {
            _currentSender = null;
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    private void OnAsyncHandlerCompleted(AsyncHandlerCompleted done)
    {
        if (!ReferenceEquals(done.Task, _pendingAsync))
            return; // a restart or stop overtook it
        _pendingAsync = null;
        _mailbox.ResumeUser();
        if (done.Task.IsFaulted || done.Task.IsCanceled)
        {
            _currentMessage = done.Message;
            _currentSender = done.Sender;
            try
            {
                HandleInvokeFailure(Unwrap(done.Task), alreadySuspended: false);
            }
            finally
            {
                _currentMessage = null;
                _currentSender = null;
            }
        }
    }

    // ---- behaviour -------------------------------------------------------------------------

    public void Become(Action configure) => AsReceiveActor().SetBehaviour(configure, stacked: false);

    public void BecomeStacked(Action configure) => AsReceiveActor().SetBehaviour(configure, stacked: true);

    public void UnbecomeStacked() => AsReceiveActor().PopBehaviour();

    private ReceiveActor AsReceiveActor() =>
        _actor as ReceiveActor ?? throw new NotSupportedException("Become needs a ReceiveActor");

    // ---- receive timeout -------------------------------------------------------------------

    private TimeSpan? _receiveTimeout;
    private ITimer? _receiveTimer;

    public void SetReceiveTimeout(TimeSpan? timeout)
    {
        _receiveTimeout = timeout;
        ResetReceiveTimeout();
    }

    private void ResetReceiveTimeout()
    {
        if (_receiveTimeout is not { } timeout)
        {
            _receiveTimer?.Dispose();
            _receiveTimer = null;
            return;
        }
        _receiveTimer ??= System.TimeProvider.CreateTimer(
            static s => ((ActorCell)s!).Self.Tell(ReceiveTimeout.Instance, null), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _receiveTimer.Change(timeout, Timeout.InfiniteTimeSpan);
    }

    // ---- stash -----------------------------------------------------------------------------

    private List<Envelope>? _stash;
    private Queue<Envelope>? _unstashed;

    internal bool HasUnstashed => _unstashed is { Count: > 0 };

    internal bool TryTakeUnstashed(out Envelope envelope)
    {
        if (_unstashed is { Count: > 0 } q)
        {
            envelope = q.Dequeue();
            return true;
        }
        envelope = default;
        return false;
    }

    void IStash.Stash()
    {
        if (_currentMessage is null)
            throw new InvalidOperationException("Stash can only be called while processing a message");
        (_stash ??= []).Add(new Envelope(_currentMessage, _currentSender));
    }

    void IStash.Unstash()
    {
        if (_stash is not { Count: > 0 })
            return;
        var first = _stash[0];
        _stash.RemoveAt(0);
        Prepend([first]);
    }

    void IStash.UnstashAll()
    {
        if (_stash is not { Count: > 0 })
            return;
        var all = _stash;
        _stash = null;
        Prepend(all);
    }

    void IStash.ClearStash() => _stash = null;

    int IStash.Count => _stash?.Count ?? 0;

    private void Prepend(List<Envelope> envelopes)
    {
        var q = new Queue<Envelope>(envelopes.Count + (_unstashed?.Count ?? 0));
        foreach (var e in envelopes)
            q.Enqueue(e);
        if (_unstashed is not null)
        {
            foreach (var e in _unstashed)
                q.Enqueue(e);
        }
        _unstashed = q;
    }

    internal IStash Stash => this;

    private sealed class Create : SystemMessage;

    private sealed class AsyncHandlerCompleted(Task task, IActorRef? sender, object? message) : SystemMessage
    {
        public Task Task { get; } = task;
        public IActorRef? Sender { get; } = sender;
        public object? Message { get; } = message;
    }
}
