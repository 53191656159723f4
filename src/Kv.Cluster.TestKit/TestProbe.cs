using System.Collections.Concurrent;
using Kv.Cluster.Actor;
using Kv.Cluster.Dispatch;

namespace Kv.Cluster.TestKit;

/// <summary>
/// An actor whose mailbox the test reads: send it messages (or make it the sender), then assert on
/// what arrived with <c>ExpectMsg</c>, <c>ExpectNoMsg</c>, <c>FishForMessage</c>, inside <c>Within</c> blocks.
/// </summary>
public sealed class TestProbe : ICanTell
{
    private readonly BlockingCollection<Envelope> _queue = new(new ConcurrentQueue<Envelope>());
    private DateTime? _deadline;

    /// <summary>A probe in <paramref name="system"/> (TestKit.CreateTestProbe does this for you).</summary>
    public TestProbe(ActorSystem system, string? name = null)
    {
        System = system;
        Ref = system.ActorOf(Props.Create(() => new ProbeActor(_queue)), name);
    }

    /// <summary>The system the probe lives in.</summary>
    public ActorSystem System { get; }

    /// <summary>The probe's actor.</summary>
    public IActorRef Ref { get; }

    /// <summary>Sender of the last message taken.</summary>
    public IActorRef? LastSender { get; private set; }

    /// <summary>Messages waiting.</summary>
    public int Count => _queue.Count;

    /// <summary>Sends a message to the probe's actor.</summary>
    public void Tell(object message, IActorRef? sender) => Ref.Tell(message, sender);

    /// <summary>Sends <paramref name="message"/> to <paramref name="target"/> with the probe as sender.</summary>
    public void Send(ICanTell target, object message) => target.Tell(message, Ref);

    /// <summary>Replies to the sender of the last message taken.</summary>
    public void Reply(object message) =>
        (LastSender ?? throw new TestKitException("no message taken yet, nobody to reply to")).Tell(message, Ref);

    /// <summary>Watches <paramref name="subject"/>; its Terminated will arrive at the probe.</summary>
    public IActorRef Watch(IActorRef subject)
    {
        Ref.Tell(new ProbeActor.WatchIt(subject), null);
        return subject;
    }

    /// <summary>Stops watching.</summary>
    public void Unwatch(IActorRef subject) => Ref.Tell(new ProbeActor.UnwatchIt(subject), null);

    /// <summary>Waits for a message of type <typeparamref name="T"/> (failing on any other first message).</summary>
    public T ExpectMsg<T>(TimeSpan? timeout = null) => ExpectMsg<T>(static _ => true, timeout);

    /// <summary>Waits for a message of type <typeparamref name="T"/> satisfying <paramref name="predicate"/>.</summary>
    public T ExpectMsg<T>(Predicate<T> predicate, TimeSpan? timeout = null, string? hint = null)
    {
        var envelope = Take(timeout, $"a {typeof(T).Name}{(hint is null ? "" : " (" + hint + ")")}");
        if (envelope.Message is not T t)
            throw new TestKitException($"expected a {typeof(T).Name} but got {Describe(envelope.Message)}");
        if (!predicate(t))
            throw new TestKitException($"the {typeof(T).Name} that arrived did not match{(hint is null ? "" : " (" + hint + ")")}: {Describe(t!)}");
        return t;
    }

    /// <summary>Waits for exactly <paramref name="expected"/> (by Equals).</summary>
    public T ExpectMsg<T>(T expected, TimeSpan? timeout = null) where T : notnull
    {
        var envelope = Take(timeout, Describe(expected));
        if (!expected.Equals(envelope.Message))
            throw new TestKitException($"expected {Describe(expected)} but got {Describe(envelope.Message)}");
        return (T)envelope.Message;
    }

    /// <summary>Waits for <see cref="Terminated"/> of <paramref name="actor"/>.</summary>
    public Terminated ExpectTerminated(IActorRef actor, TimeSpan? timeout = null) =>
        ExpectMsg<Terminated>(t => t.ActorRef.Equals(actor), timeout, $"Terminated of {actor.Path}");

    /// <summary>Asserts nothing arrives for <paramref name="duration"/> (default 100 ms, dilated).</summary>
    public void ExpectNoMsg(TimeSpan? duration = null)
    {
        var wait = duration ?? TestKitSettings.Dilated(TimeSpan.FromMilliseconds(100));
        if (_queue.TryTake(out var e, wait))
        {
            LastSender = e.Sender;
            throw new TestKitException($"expected no message for {wait.TotalMilliseconds:0} ms but got {Describe(e.Message)}");
        }
    }

    /// <summary>Takes messages until one of type <typeparamref name="T"/> satisfies <paramref name="predicate"/>, skipping the rest.</summary>
    public T FishForMessage<T>(Predicate<T> predicate, TimeSpan? timeout = null, string? hint = null)
    {
        var end = DateTime.UtcNow + Remaining(timeout);
        var skipped = new List<string>();
        while (true)
        {
            var left = end - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !_queue.TryTake(out var e, left))
                throw new TestKitException($"no {typeof(T).Name}{(hint is null ? "" : " (" + hint + ")")} within {Remaining(timeout).TotalMilliseconds:0} ms; skipped: [{string.Join(", ", skipped.TakeLast(10))}]");
            LastSender = e.Sender;
            if (e.Message is T t && predicate(t))
                return t;
            skipped.Add(Describe(e.Message));
        }
    }

    /// <summary>Takes the next <paramref name="n"/> messages.</summary>
    public IReadOnlyList<object> ReceiveN(int n, TimeSpan? timeout = null)
    {
        var end = DateTime.UtcNow + Remaining(timeout);
        var list = new List<object>(n);
        while (list.Count < n)
        {
            var left = end - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !_queue.TryTake(out var e, left))
                throw new TestKitException($"expected {n} messages, got {list.Count}");
            LastSender = e.Sender;
            list.Add(e.Message);
        }
        return list;
    }

    /// <summary>Runs <paramref name="body"/>; every expectation inside shares the deadline <paramref name="max"/>, and the block fails if it takes longer.</summary>
    public void Within(TimeSpan max, Action body)
    {
        var outer = _deadline;
        var deadline = DateTime.UtcNow + TestKitSettings.Dilated(max);
        _deadline = outer is { } o && o < deadline ? o : deadline;
        try
        {
            body();
            if (DateTime.UtcNow > _deadline.Value + TimeSpan.FromMilliseconds(50))
                throw new TestKitException($"the block took longer than {max.TotalMilliseconds:0} ms");
        }
        finally
        {
            _deadline = outer;
        }
    }

    /// <summary>Time left in the current Within block, or the default timeout.</summary>
    public TimeSpan Remaining(TimeSpan? timeout = null)
    {
        var wanted = timeout is { } t ? TestKitSettings.Dilated(t) : TestKitSettings.DefaultTimeout;
        if (_deadline is { } d)
        {
            var left = d - DateTime.UtcNow;
            return left < wanted ? (left < TimeSpan.Zero ? TimeSpan.Zero : left) : wanted;
        }
        return wanted;
    }

    private Envelope Take(TimeSpan? timeout, string what)
    {
        var wait = Remaining(timeout);
        if (!_queue.TryTake(out var e, wait))
            throw new TestKitException($"timeout ({wait.TotalMilliseconds:0} ms) waiting for {what}");
        LastSender = e.Sender;
        return e;
    }

    private static string Describe(object message) => $"{message.GetType().Name} {message}";

    private sealed class ProbeActor(BlockingCollection<Envelope> queue) : ActorBase
    {
        public sealed record WatchIt(IActorRef Subject);

        public sealed record UnwatchIt(IActorRef Subject);

        protected override bool Receive(object message)
        {
            switch (message)
            {
                case WatchIt w:
                    Context.Watch(w.Subject);
                    break;
                case UnwatchIt u:
                    Context.Unwatch(u.Subject);
                    break;
                default:
                    queue.Add(new Envelope(message, Sender));
                    break;
            }
            return true;
        }
    }
}
