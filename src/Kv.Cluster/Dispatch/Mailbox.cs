using System.Collections.Concurrent;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;

namespace Kv.Cluster.Dispatch;

/// <summary>
/// A schedule-once mailbox (Kestrel's IOQueue pattern): enqueue, then put the mailbox on the
/// thread pool only if it is not already there; a run processes all system messages, then up to
/// <c>throughput</c> user messages (system messages checked between each), clears the flag and
/// re-checks. System messages overtake user messages. User processing can be suspended (failure,
/// async handler in flight) while system messages go on.
/// </summary>
internal sealed class Mailbox : IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Scheduled = 1;

    private readonly ConcurrentQueue<Envelope> _user = new();
    private readonly ConcurrentQueue<SystemMessage> _system = new();
    private readonly ActorCell _cell;
    private readonly int _throughput;
    private readonly SemaphoreSlim? _slots;
    private readonly TimeSpan _pushTimeout;
    private int _status;
    private int _suspended; // touched only by the run that owns the actor
    private volatile bool _closed;

    public Mailbox(ActorCell cell, int throughput, int capacity, TimeSpan pushTimeout)
    {
        _cell = cell;
        _throughput = throughput;
        if (capacity > 0)
        {
            _slots = new SemaphoreSlim(capacity, capacity);
            _pushTimeout = pushTimeout;
        }
    }

    public void Post(in Envelope envelope)
    {
        if (_closed || (_slots is not null && !_slots.Wait(_pushTimeout)))
            ToDeadLetters(envelope);
        else
            Enqueue(envelope);
    }

    public async ValueTask PostAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        if (_slots is not null && !_closed)
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_closed)
            ToDeadLetters(envelope);
        else
            Enqueue(envelope);
    }

    private void Enqueue(in Envelope envelope)
    {
        _user.Enqueue(envelope);
        if (_closed)
            DrainToDeadLetters(); // closed while we enqueued: nobody else will look at the queue
        else
            Schedule();
    }

    private void ToDeadLetters(in Envelope envelope) =>
        _cell.System.DeadLetters.Tell(new DeadLetter(envelope.Message, envelope.Sender, _cell.Self), envelope.Sender);

    public void PostSystem(SystemMessage message)
    {
        _system.Enqueue(message);
        Schedule();
    }

    /// <summary>Called from the actor's own run only.</summary>
    public void SuspendUser() => _suspended++;

    /// <summary>Called from the actor's own run only.</summary>
    public void ResumeUser()
    {
        if (_suspended > 0)
            _suspended--;
    }

    /// <summary>Marks the mailbox dead; queued and later user messages go to dead letters.</summary>
    public void Close()
    {
        _closed = true;
        DrainToDeadLetters();
    }

    private void DrainToDeadLetters()
    {
        while (_user.TryDequeue(out var e))
        {
            _slots?.Release();
            if (e.Message is not PoisonPill)
                ToDeadLetters(e);
        }
    }

    private void Schedule()
    {
        if (Interlocked.CompareExchange(ref _status, Scheduled, Idle) == Idle)
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public void Execute()
    {
        try
        {
            ProcessSystemMessages();
            for (int i = 0; i < _throughput; i++)
            {
                if (_closed || _suspended > 0)
                    break;
                if (_cell.TryTakeUnstashed(out var envelope))
                {
                    _cell.Invoke(envelope);
                }
                else if (_user.TryDequeue(out envelope))
                {
                    _slots?.Release();
                    _cell.Invoke(envelope);
                }
                else
                {
                    break;
                }
                if (!_system.IsEmpty)
                    ProcessSystemMessages();
            }
        }
        finally
        {
            // A full fence, not a release store: the re-check below must not be reordered before
            // the flag is cleared, or a sender that saw "scheduled" and a run that saw "empty"
            // would both walk away from a queued message (store-load reordering; Kestrel's IOQueue
            // uses a barrier here for the same reason).
            Interlocked.Exchange(ref _status, Idle);
            if (!_system.IsEmpty || (!_closed && _suspended == 0 && (!_user.IsEmpty || _cell.HasUnstashed)))
                Schedule();
        }
    }

    private void ProcessSystemMessages()
    {
        while (_system.TryDequeue(out var message))
            _cell.InvokeSystem(message);
    }
}
