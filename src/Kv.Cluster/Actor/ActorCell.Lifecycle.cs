using Kv.Cluster.Dispatch;
using Kv.Cluster.Event;

namespace Kv.Cluster.Actor;

/// <summary>Children, supervision, death watch and termination.</summary>
internal sealed partial class ActorCell
{
    private readonly Lock _childrenLock = new();
    private Dictionary<string, ChildEntry>? _children;
    private long _nextChildName;
    private HashSet<IActorRef>? _watching;
    private HashSet<IActorRef>? _watchedBy;
    private HashSet<IActorRef>? _terminatedQueued;
    private bool _terminating;
    private bool _failed;
    private object? _failedMessage;
    private Exception? _pendingRecreate;

    private sealed class ChildEntry(LocalActorRef actor)
    {
        public LocalActorRef Actor { get; } = actor;
        public ChildRestartStats Stats { get; } = new();
    }

    // ---- children --------------------------------------------------------------------------

    public IActorRef ActorOf(Props props, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(props);
        if (name is null)
        {
            name = "$" + Interlocked.Increment(ref _nextChildName).ToString(global::System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (!ActorPath.IsValidName(name) || name.StartsWith('$'))
        {
            throw new InvalidActorNameException($"'{name}' is not a valid actor name (1..255 of letters, digits, -_.+:@&=,!~';*, not starting with $)");
        }
        return SpawnChild(props, name);
    }

    internal LocalActorRef SpawnChild(Props props, string name)
    {
        var cell = new ActorCell(System, props, Self, Self.Path.Child(name));
        lock (_childrenLock)
        {
            if (_terminating)
                throw new InvalidOperationException($"{Self.Path} is stopping and cannot create children");
            _children ??= new Dictionary<string, ChildEntry>(StringComparer.Ordinal);
            if (!_children.TryAdd(name, new ChildEntry(cell.Self)))
                throw new InvalidActorNameException($"actor name '{name}' is not unique under {Self.Path}");
        }
        cell.Start();
        return cell.Self;
    }

    public IEnumerable<IActorRef> GetChildren()
    {
        lock (_childrenLock)
        {
            if (_children is null || _children.Count == 0)
                return [];
            var list = new IActorRef[_children.Count];
            int i = 0;
            foreach (var c in _children.Values)
                list[i++] = c.Actor;
            return list;
        }
    }

    public IActorRef? Child(string name) => GetChildCell(name);

    /// <summary>Thread-safe lookup used by path resolution.</summary>
    internal LocalActorRef? GetChildCell(string name)
    {
        lock (_childrenLock)
            return _children is not null && _children.TryGetValue(name, out var c) ? c.Actor : null;
    }

    private int ChildCount
    {
        get
        {
            lock (_childrenLock)
                return _children?.Count ?? 0;
        }
    }

    public void Stop(IActorRef actor)
    {
        if (actor is InternalActorRef r)
            r.Stop();
    }

    private void OnChildTerminated(IActorRef child)
    {
        lock (_childrenLock)
        {
            if (_children is not null && _children.TryGetValue(child.Path.Name, out var entry) && ReferenceEquals(entry.Actor, child))
                _children.Remove(child.Path.Name);
        }
        if (ChildCount > 0)
            return;
        if (_terminating)
            FinishTerminate();
        else if (_pendingRecreate is { } cause)
        {
            _pendingRecreate = null;
            FinishRecreate(cause);
        }
    }

    // ---- failures ----------------------------------------------------------------------------

    private void HandleInvokeFailure(Exception cause, bool alreadySuspended)
    {
        if (_terminating)
        {
            Log.Error(cause, $"{Self.Path} threw while stopping: {cause.Message}");
            return;
        }
        if (_failed && !alreadySuspended)
        {
            Log.Error(cause, $"{Self.Path} threw again while waiting for its supervisor: {cause.Message}");
            return;
        }
        if (!alreadySuspended)
            _mailbox.SuspendUser();
        _failed = true;
        _failedMessage = _currentMessage;
        Parent.SendSystemMessage(new Failed(Self, cause));
    }

    private void OnChildFailed(Failed failed)
    {
        ChildEntry? entry;
        lock (_childrenLock)
        {
            if (_children is null || !_children.TryGetValue(failed.Child.Path.Name, out entry) || !ReferenceEquals(entry.Actor, failed.Child))
                return; // an old incarnation
        }
        var strategy = Props.SupervisorStrategy ?? _actor?.AroundSupervisorStrategy() ?? SupervisorStrategy.DefaultStrategy;
        var directive = strategy.Handle(failed.Child, failed.Cause, entry.Stats);
        if (strategy.LoggingEnabled && directive != Directive.Escalate)
        {
            string text = $"{failed.Child.Path} failed ({failed.Cause.GetType().Name}: {failed.Cause.Message}); supervisor decided {directive}";
            if (directive == Directive.Resume)
                Log.Warning(text);
            else
                Log.Error(failed.Cause, text);
        }
        var child = (InternalActorRef)failed.Child;
        switch (directive)
        {
            case Directive.Resume:
                child.SendSystemMessage(new Resume(failed.Cause));
                break;
            case Directive.Restart:
                child.SendSystemMessage(new Recreate(failed.Cause));
                break;
            case Directive.Stop:
                child.Stop();
                break;
            default:
                HandleInvokeFailure(failed.Cause, alreadySuspended: false);
                break;
        }
    }

    private void OnResume(Resume _)
    {
        if (!_failed)
            return;
        _failed = false;
        _mailbox.ResumeUser();
    }

    private void OnRecreate(Exception cause)
    {
        if (_terminating || !_failed)
            return;
        var failedActor = _actor;
        if (failedActor is not null)
        {
            try
            {
                failedActor.AroundPreRestart(cause, _failedMessage);
            }
            catch (Exception e)
            {
                Log.Error(e, $"PreRestart of {Self.Path} threw: {e.Message}");
            }
        }
        if (_pendingAsync is not null)
        {
            _pendingAsync = null;
            _mailbox.ResumeUser();
        }
        if (ChildCount > 0)
        {
            _pendingRecreate = cause; // finish when the last child has stopped
            return;
        }
        FinishRecreate(cause);
    }

    private void FinishRecreate(Exception cause)
    {
        try
        {
            NewActor();
            _actor!.AroundPostRestart(cause);
        }
        catch (Exception e)
        {
            // Still suspended from the first failure: report the new one without suspending again.
            HandleInvokeFailure(new ActorInitializationException(Self, $"{Props.ActorType.Name} at {Self.Path} failed to restart: {e.Message}", e), alreadySuspended: true);
            return;
        }
        _failed = false;
        _failedMessage = null;
        _mailbox.ResumeUser();
    }

    // ---- death watch -------------------------------------------------------------------------

    public IActorRef Watch(IActorRef subject)
    {
        if (subject.Equals(Self))
            return subject;
        if ((_watching ??= []).Add(subject))
            ((InternalActorRef)subject).SendSystemMessage(new Watch(subject, Self));
        return subject;
    }

    public IActorRef Unwatch(IActorRef subject)
    {
        if (_watching is not null && _watching.Remove(subject))
            ((InternalActorRef)subject).SendSystemMessage(new Unwatch(subject, Self));
        _terminatedQueued?.Remove(subject);
        return subject;
    }

    private void OnWatch(Watch w)
    {
        if (!w.Watchee.Equals(Self) || w.Watcher.Equals(Self))
            return;
        if (IsTerminated)
            ((InternalActorRef)w.Watcher).SendSystemMessage(new DeathWatchNotification(Self, existenceConfirmed: true, addressTerminated: false));
        else
            (_watchedBy ??= []).Add(w.Watcher);
    }

    private void OnUnwatch(Unwatch u) => _watchedBy?.Remove(u.Watcher);

    private void OnDeathWatchNotification(DeathWatchNotification d)
    {
        if (_watching is null || !_watching.Remove(d.Actor) || _terminating)
            return;
        (_terminatedQueued ??= []).Add(d.Actor);
        _mailbox.Post(new Envelope(new Terminated(d.Actor, d.ExistenceConfirmed, d.AddressTerminated), d.Actor));
    }

    // ---- termination -------------------------------------------------------------------------

    private void BeginTerminate()
    {
        if (_terminating)
            return;
        lock (_childrenLock)
            _terminating = true;
        _mailbox.SuspendUser();
        _receiveTimer?.Dispose();
        _receiveTimer = null;
        _receiveTimeout = null;
        if (_watching is not null)
        {
            foreach (var w in _watching)
                ((InternalActorRef)w).SendSystemMessage(new Unwatch(w, Self));
            _watching = null;
        }
        var children = GetChildren();
        bool any = false;
        foreach (var child in children)
        {
            any = true;
            ((InternalActorRef)child).Stop();
        }
        if (!any)
            FinishTerminate();
    }

    private void FinishTerminate()
    {
        if (IsTerminated)
            return;
        var actor = _actor;
        if (actor is not null)
        {
            try
            {
                actor.AroundPostStop();
            }
            catch (Exception e)
            {
                Log.Error(e, $"PostStop of {Self.Path} threw: {e.Message}");
            }
        }
        IsTerminated = true;
        _actor = null;
        _mailbox.Close();
        if (_stash is not null)
        {
            foreach (var e in _stash)
                System.DeadLetters.Tell(new DeadLetter(e.Message, e.Sender, Self), e.Sender);
            _stash = null;
        }
        if (_unstashed is not null)
        {
            foreach (var e in _unstashed)
                System.DeadLetters.Tell(new DeadLetter(e.Message, e.Sender, Self), e.Sender);
            _unstashed = null;
        }
        if (_watchedBy is not null)
        {
            foreach (var watcher in _watchedBy)
                ((InternalActorRef)watcher).SendSystemMessage(new DeathWatchNotification(Self, existenceConfirmed: true, addressTerminated: false));
            _watchedBy = null;
        }
        Parent.SendSystemMessage(new ChildTerminated(Self));
    }
}
