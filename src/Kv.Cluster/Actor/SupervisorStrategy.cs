namespace Kv.Cluster.Actor;

/// <summary>What a supervisor does with a failed child.</summary>
public enum Directive
{
    /// <summary>Keep the instance and its state; go on with the next message.</summary>
    Resume,

    /// <summary>Replace the instance with a fresh one (the mailbox is kept).</summary>
    Restart,

    /// <summary>Stop the child.</summary>
    Stop,

    /// <summary>Fail the supervisor itself with the same exception.</summary>
    Escalate,
}

/// <summary>Decides what happens to a failed child.</summary>
public abstract class SupervisorStrategy
{
    /// <summary>
    /// Akka's default: stop on <see cref="ActorInitializationException"/>, <see cref="ActorKilledException"/>
    /// and <see cref="DeathPactException"/>, restart on anything else, without limit.
    /// </summary>
    public static readonly SupervisorStrategy DefaultStrategy = new OneForOneStrategy(DefaultDecider);

    /// <summary>The default decider.</summary>
    public static Directive DefaultDecider(Exception e) => e switch
    {
        ActorInitializationException or ActorKilledException or DeathPactException => Directive.Stop,
        _ => Directive.Restart,
    };

    /// <summary>Whether failures are logged (at error level) when handled.</summary>
    public bool LoggingEnabled { get; init; } = true;

    /// <summary>Chooses a directive for a failure of <paramref name="child"/>; <paramref name="stats"/> tracks its restarts.</summary>
    internal abstract Directive Handle(IActorRef child, Exception cause, ChildRestartStats stats);
}

/// <summary>
/// Applies the decision to the failed child only. A Restart beyond <c>maxNrOfRetries</c> within
/// <c>withinTimeRange</c> becomes a Stop, as in Akka.
/// </summary>
public sealed class OneForOneStrategy : SupervisorStrategy
{
    private readonly Func<Exception, Directive> _decider;

    /// <summary>Unlimited restarts.</summary>
    public OneForOneStrategy(Func<Exception, Directive> decider) : this(-1, Timeout.InfiniteTimeSpan, decider)
    {
    }

    /// <summary>
    /// At most <paramref name="maxNrOfRetries"/> restarts (-1 = unlimited) within
    /// <paramref name="withinTimeRange"/> (infinite = ever).
    /// </summary>
    public OneForOneStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Func<Exception, Directive> decider)
    {
        MaxNrOfRetries = maxNrOfRetries;
        WithinTimeRange = withinTimeRange;
        _decider = decider;
    }

    /// <summary>Restart limit (-1 = none).</summary>
    public int MaxNrOfRetries { get; }

    /// <summary>Window for the restart limit.</summary>
    public TimeSpan WithinTimeRange { get; }

    internal override Directive Handle(IActorRef child, Exception cause, ChildRestartStats stats)
    {
        var directive = _decider(cause);
        if (directive == Directive.Restart && !stats.RequestRestartPermission(MaxNrOfRetries, WithinTimeRange))
            return Directive.Stop;
        return directive;
    }
}

/// <summary>Restart bookkeeping per child.</summary>
internal sealed class ChildRestartStats
{
    private int _count;
    private long _windowStart;

    public bool RequestRestartPermission(int maxNrOfRetries, TimeSpan within)
    {
        if (maxNrOfRetries < 0)
            return true;
        if (maxNrOfRetries == 0)
            return false;
        long now = Environment.TickCount64;
        if (within == Timeout.InfiniteTimeSpan)
            return ++_count <= maxNrOfRetries;
        if (_count == 0 || now - _windowStart > (long)within.TotalMilliseconds)
        {
            _windowStart = now;
            _count = 1;
            return true;
        }
        return ++_count <= maxNrOfRetries;
    }
}
