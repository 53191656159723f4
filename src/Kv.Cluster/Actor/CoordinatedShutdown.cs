using Kv.Cluster.Event;

namespace Kv.Cluster.Actor;

/// <summary>
/// Akka's coordinated shutdown: named phases run in a fixed order; the tasks of one phase run
/// concurrently and the next phase starts when they finish or the phase times out; the last phase
/// terminates the system. <see cref="Run"/> is idempotent and remembers the first reason.
/// </summary>
public sealed class CoordinatedShutdown
{
    public const string PhaseBeforeServiceUnbind = "before-service-unbind";
    public const string PhaseServiceUnbind = "service-unbind";
    public const string PhaseServiceRequestsDone = "service-requests-done";
    public const string PhaseServiceStop = "service-stop";
    public const string PhaseBeforeClusterShutdown = "before-cluster-shutdown";
    public const string PhaseClusterLeave = "cluster-leave";
    public const string PhaseClusterExiting = "cluster-exiting";
    public const string PhaseClusterExitingDone = "cluster-exiting-done";
    public const string PhaseClusterShutdown = "cluster-shutdown";
    public const string PhaseBeforeActorSystemTerminate = "before-actor-system-terminate";
    public const string PhaseActorSystemTerminate = "actor-system-terminate";

    /// <summary>The phases, in the order they run.</summary>
    public static readonly IReadOnlyList<string> Phases =
    [
        PhaseBeforeServiceUnbind, PhaseServiceUnbind, PhaseServiceRequestsDone, PhaseServiceStop,
        PhaseBeforeClusterShutdown, PhaseClusterLeave, PhaseClusterExiting, PhaseClusterExitingDone,
        PhaseClusterShutdown, PhaseBeforeActorSystemTerminate, PhaseActorSystemTerminate,
    ];

    private readonly ActorSystem _system;
    private readonly ILoggingAdapter _log;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<(string Name, Func<CancellationToken, Task> Task)>> _tasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> _timeouts = new(StringComparer.Ordinal);
    private Task? _running;

    private CoordinatedShutdown(ActorSystem system)
    {
        _system = system;
        _log = system.CreateLogger("CoordinatedShutdown");
    }

    /// <summary>The system's coordinated shutdown (created on first use).</summary>
    public static CoordinatedShutdown Get(ActorSystem system) => system.GetOrAddExtension(static s => new CoordinatedShutdown(s));

    /// <summary>The reason of the run, once <see cref="Run"/> was called.</summary>
    public ShutdownReason? Reason { get; private set; }

    /// <summary>Sets a phase's timeout (default: the system's ShutdownPhaseTimeout).</summary>
    public void SetPhaseTimeout(string phase, TimeSpan timeout)
    {
        CheckPhase(phase);
        lock (_lock)
            _timeouts[phase] = timeout;
    }

    /// <summary>Adds a task to a phase. Tasks added after the phase has started are not run.</summary>
    public void AddTask(string phase, string taskName, Func<CancellationToken, Task> task)
    {
        CheckPhase(phase);
        lock (_lock)
        {
            if (!_tasks.TryGetValue(phase, out var list))
                _tasks[phase] = list = [];
            list.Add((taskName, task));
        }
    }

    private static void CheckPhase(string phase)
    {
        if (!Phases.Contains(phase))
            throw new ArgumentException($"unknown coordinated-shutdown phase '{phase}'", nameof(phase));
    }

    /// <summary>Runs all phases (once); completes when the system has terminated.</summary>
    public Task Run(ShutdownReason reason)
    {
        lock (_lock)
        {
            if (_running is not null)
                return _running;
            Reason = reason;
            _running = Task.Run(() => RunPhasesAsync(reason));
            return _running;
        }
    }

    private async Task RunPhasesAsync(ShutdownReason reason)
    {
        _log.Info($"coordinated shutdown starting, reason {reason.Name}");
        foreach (var phase in Phases)
        {
            List<(string Name, Func<CancellationToken, Task> Task)> tasks;
            TimeSpan timeout;
            lock (_lock)
            {
                tasks = _tasks.TryGetValue(phase, out var l) ? [.. l] : [];
                timeout = _timeouts.TryGetValue(phase, out var t) ? t : _system.Options.ShutdownPhaseTimeout;
            }
            if (tasks.Count == 0)
                continue;
            using var cts = new CancellationTokenSource(timeout);
            var running = tasks.Select(t => RunOne(phase, t.Name, t.Task, cts.Token)).ToArray();
            var all = Task.WhenAll(running);
            var finished = await Task.WhenAny(all, Task.Delay(timeout, CancellationToken.None)).ConfigureAwait(false);
            if (finished != all)
                _log.Warning($"coordinated shutdown phase {phase} timed out after {timeout.TotalMilliseconds:0} ms; going on");
        }
        await _system.TerminateNow().ConfigureAwait(false);
    }

    private async Task RunOne(string phase, string name, Func<CancellationToken, Task> task, CancellationToken token)
    {
        try
        {
            await task(token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.Warning(e, $"coordinated shutdown task {name} in phase {phase} failed: {e.Message}");
        }
    }
}
