using Kv.Actors;
using Kv.Cluster.Actor;

namespace Kv.Client;

/// <summary>
/// One client request (a child of <see cref="KvClientActor"/>): sends the message to the first
/// candidate node (the key's preference list order), and moves to the next one when the attempt
/// times out or the client marks that node down; the first reply from any attempt wins. A node
/// that answers "no ring yet" is skipped too. Stops after replying.
/// </summary>
public sealed class ClientRequest : ReceiveActor
{
    private static readonly TimeSpan HealthTick = TimeSpan.FromMilliseconds(200);
    private readonly object _message;
    private readonly IReadOnlyList<string> _candidates;
    private readonly string _target;
    private readonly IActorRef _replyTo;
    private readonly TimeSpan _attemptTimeout;
    private readonly DateTime _deadline;
    private readonly NodeHealth _health;
    private readonly Func<object, object> _map;
    private readonly List<string> _tried = [];
    private int _attempt = -1;
    private ICancelable? _ticks;

    private sealed record AttemptTimedOut(int Attempt);

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    public ClientRequest(object message, IReadOnlyList<string> candidates, string target, IActorRef replyTo, KvClientOptions options, NodeHealth health, Func<object, object> map)
    {
        (_message, _candidates, _target, _replyTo, _health, _map) = (message, candidates, target, replyTo, health, map);
        _attemptTimeout = options.AttemptTimeout;
        _deadline = DateTime.UtcNow + options.RequestTimeout;
        Receive<AttemptTimedOut>(t =>
        {
            if (t.Attempt == _attempt)
                Next();
        });
        Receive<Tick>(_ =>
        {
            if (DateTime.UtcNow > _deadline || _health.IsDown(_candidates[_attempt]))
                Next();
        });
        ReceiveAny(OnReply);
    }

    protected override void PreStart()
    {
        _ticks = Context.System.Scheduler.ScheduleTellRepeatedly(HealthTick, HealthTick, Self, Tick.Instance, Self);
        Next();
    }

    protected override void PostStop() => _ticks?.Cancel();

    private void Next()
    {
        _attempt++;
        if (_attempt >= _candidates.Count || DateTime.UtcNow > _deadline)
        {
            string tried = _tried.Count == 0 ? "no node known" : "tried " + string.Join(", ", _tried);
            _replyTo.Tell(new KvFailure(_tried.Count == 0 ? new KvUnavailableException(tried) : new KvTimeoutException($"no node answered in time ({tried})")), Self);
            Context.Stop(Self);
            return;
        }
        string node = _candidates[_attempt];
        _tried.Add(node);
        KvPaths.On(Context.System, node, _target).Tell(_message, Self);
        Context.System.Scheduler.ScheduleTellOnce(_attemptTimeout, Self, new AttemptTimedOut(_attempt), Self);
    }

    private void OnReply(object reply)
    {
        var result = _map(reply);
        if (result is KvFailure { Error: KvUnavailableException } && _attempt + 1 < _candidates.Count)
        {
            Next();
            return;
        }
        _replyTo.Tell(result, Self);
        Context.Stop(Self);
    }
}
