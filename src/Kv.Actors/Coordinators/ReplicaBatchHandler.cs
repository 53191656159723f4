using Kv.Actors.Hints;
using Kv.Actors.Vnode;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// One <see cref="ReplicaBatch"/> on the node it was sent to (a child of the router): hands each
/// request to the local vnode of its partition (or the hint store) as the sender, so the vnodes
/// answer here, and sends their answers back to the batch coordinator in
/// <see cref="ReplicaBatchReply"/>s: at once when every answer it waits for has come, else at most
/// <see cref="ReplicaOutbox.Safety"/> after the first answer not yet sent, or when <see cref="BatchLimits.MaxMessageBytes"/> is reached. A vnode that has handed
/// its partition off forwards the request and its new owner answers here as well. It stops when
/// every answer has come, or after the batch's timeout.
/// </summary>
public sealed class ReplicaBatchHandler : ReceiveActor, IWithTimers
{
    private readonly ReplicaBatch _batch;
    private readonly IActorRef _replyTo;
    private readonly Dictionary<long, int> _slotOf = [];
    private List<ReplicaBatchReplyItem> _pending = [];
    private long _bytes;
    private int _expected;
    private int _received;
    private bool _lingering;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }

    private sealed class Expired
    {
        public static readonly Expired Instance = new();
    }

    public ReplicaBatchHandler(ReplicaBatch batch, IActorRef replyTo)
    {
        (_batch, _replyTo) = (batch, replyTo);
        Receive<VnodeGetReply>(r => OnAnswer(r.RequestId, r));
        Receive<VnodePutReply>(r => OnAnswer(r.RequestId, r));
        Receive<Flush>(_ =>
        {
            _lingering = false;
            Send();
        });
        Receive<Expired>(_ =>
        {
            Send();
            Context.Stop(Self);
        });
    }

    /// <summary>How many answers a request gets from a vnode or the hint store (an error ends a put after one).</summary>
    internal static int AnswersTo(object message) => message switch
    {
        VnodeGet or HintGet or HintApply => 1,
        VnodeApply a => a.RequestId == VnodeApply.NoReply ? 0 : 1,
        VnodeCoordinatePut => 2,
        _ => 0,
    };

    private static long RequestIdOf(object message) => message switch
    {
        VnodeGet g => g.RequestId,
        HintGet g => g.RequestId,
        HintApply a => a.RequestId,
        VnodeApply a => a.RequestId,
        VnodeCoordinatePut p => p.RequestId,
        _ => VnodeApply.NoReply,
    };

    private readonly Dictionary<int, ActorSelection> _targets = [];

    /// <summary>The local vnode of a partition (a selection: whatever vnode runs there now), or the hint store (-1).</summary>
    private ActorSelection Target(int partition)
    {
        if (!_targets.TryGetValue(partition, out var target))
        {
            _targets[partition] = target = partition < 0
                ? Context.ActorSelection("/user/" + KvPaths.HintStore)
                : Context.ActorSelection("/user/" + KvPaths.VnodeManager + "/" + KvPaths.VnodeName(partition));
        }
        return target;
    }

    protected override void PreStart()
    {
        foreach (var item in _batch.Items)
        {
            int answers = AnswersTo(item.Message);
            if (answers > 0 && item.Slot >= 0)
            {
                _expected += answers;
                _slotOf[RequestIdOf(item.Message)] = item.Slot;
            }
            var target = Target(item.Hints ? -1 : item.Partition);
            target.Tell(item.Message, answers > 0 && item.Slot >= 0 ? Self : ActorRefs.NoSender);
        }
        if (_expected == 0)
        {
            Context.Stop(Self);
            return;
        }
        long timeout = Math.Clamp(_batch.TimeoutMs, 100, 120_000);
        Timers.StartSingleTimer(Expired.Instance, Expired.Instance, TimeSpan.FromMilliseconds(timeout + 1000));
    }

    private void OnAnswer(long requestId, object answer)
    {
        if (!_slotOf.TryGetValue(requestId, out int slot))
            return;
        _pending.Add(new ReplicaBatchReplyItem(slot, answer));
        _bytes += ReplicaOutbox.SizeOf(answer);
        _received++;
        // A put that failed at its coordinating vnode answers once, not twice: the expiry ends it.
        if (_received >= _expected)
        {
            Send();
            Context.Stop(Self);
        }
        else if (_bytes >= BatchLimits.MaxMessageBytes)
            Send();
        else if (!_lingering)
        {
            _lingering = true;
            // Every answer it waits for is due soon (a busy node's vnodes take a few ms for a batch's
            // reads): one envelope then; this only bounds the wait for a slow vnode.
            Timers.StartSingleTimer(Flush.Instance, Flush.Instance, ReplicaOutbox.Safety);
        }
    }

    private void Send()
    {
        if (_pending.Count == 0)
            return;
        _replyTo.Tell(new ReplicaBatchReply(_batch.BatchId, _pending), Self);
        _pending = [];
        _bytes = 0;
    }
}
