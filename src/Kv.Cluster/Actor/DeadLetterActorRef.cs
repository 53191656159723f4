using Kv.Cluster.Dispatch;
using Kv.Cluster.Event;
using Microsoft.Extensions.Logging;

namespace Kv.Cluster.Actor;

/// <summary>
/// Where undeliverable messages go. Each is counted and published as <see cref="DeadLetter"/>;
/// the first few per window are logged, the rest summarised, so a flood cannot drown the log.
/// </summary>
public sealed class DeadLetterActorRef : InternalActorRef
{
    private readonly ActorSystem _system;
    private readonly Lock _logLock = new();
    private long _count;
    private long _windowStart = long.MinValue;
    private int _loggedInWindow;
    private long _suppressed;

    internal DeadLetterActorRef(ActorSystem system, ActorPath path)
    {
        _system = system;
        Path = path;
    }

    /// <inheritdoc />
    public override ActorPath Path { get; }

    /// <inheritdoc />
    public override bool IsLocal => true;

    /// <summary>Dead letters since the system started.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <inheritdoc />
    public override void Tell(object message, IActorRef? sender)
    {
        var letter = message as DeadLetter ?? new DeadLetter(message, sender, this);
        if (letter.Message is DeadLetter)
            return; // never loop
        Interlocked.Increment(ref _count);
        _system.EventStream.Publish(letter);
        MaybeLog(letter);
    }

    private void MaybeLog(DeadLetter letter)
    {
        int limit = _system.Options.DeadLetterLogLimit;
        if (limit <= 0)
            return;
        string? line = null;
        long suppressed = 0;
        lock (_logLock)
        {
            long now = Environment.TickCount64;
            if (now - _windowStart >= (long)_system.Options.DeadLetterLogWindow.TotalMilliseconds)
            {
                suppressed = _suppressed;
                _suppressed = 0;
                _windowStart = now;
                _loggedInWindow = 0;
            }
            if (_loggedInWindow < limit)
            {
                _loggedInWindow++;
                line = $"Message {letter.Message.GetType().Name} from {letter.Sender?.Path.ToString() ?? "no sender"} to {letter.Recipient.Path} was not delivered ({Count} dead letters so far)";
            }
            else
            {
                _suppressed++;
            }
        }
        if (suppressed > 0)
            _system.Log.Info($"{suppressed} dead letters were not logged in the last {_system.Options.DeadLetterLogWindow.TotalSeconds:0}s");
        if (line is not null)
            _system.Log.Info(line);
    }

    internal override ActorSystem? OwningSystem => _system;

    internal override void SendSystemMessage(SystemMessage message)
    {
        if (message is Watch w && w.Watcher is InternalActorRef watcher)
            watcher.SendSystemMessage(new DeathWatchNotification(w.Watchee, existenceConfirmed: false, addressTerminated: false));
    }

    /// <inheritdoc />
    public override void Stop()
    {
    }
}
