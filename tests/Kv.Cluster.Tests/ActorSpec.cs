using Kv.Cluster.Actor;
using Kv.Cluster.Event;
using Kv.Cluster.TestKit;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kv.Cluster.Tests;

public sealed class ActorSpec(ITestOutputHelper output) : TestKit.TestKit(output)
{
    private sealed class Forwarder(IActorRef target) : ReceiveActor
    {
        protected override void PreStart() => ReceiveAny(m => target.Tell(m, Sender));
    }

    private sealed class Echo : ReceiveActor
    {
        public Echo()
        {
            Receive<string>(s => s == "fail", _ => Sender.Tell(new Status.Failure(new InvalidOperationException("asked to fail"))));
            Receive<string>(s => s == "silent", _ => { });
            ReceiveAny(m => Sender.Tell(m));
        }
    }

    [Fact]
    public void Messages_from_one_sender_arrive_in_order()
    {
        var forwarder = Sys.ActorOf(Props.Create(() => new Forwarder(TestActor)));
        for (int i = 0; i < 10_000; i++)
            forwarder.Tell(i, null);
        for (int i = 0; i < 10_000; i++)
            Probe.ExpectMsg(i);
    }

    [Fact]
    public async Task Ask_returns_the_reply_or_fails_with_the_reason()
    {
        var echo = Sys.ActorOf(Props.Create<Echo>(), "echo");
        Assert.Equal("hi", await echo.Ask<string>("hi", TimeSpan.FromSeconds(3)));
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => echo.Ask<string>("fail", TimeSpan.FromSeconds(3)));
        Assert.Equal("asked to fail", failure.Message);
        await Assert.ThrowsAsync<AskTimeoutException>(() => echo.Ask<string>("silent", TimeSpan.FromMilliseconds(100)));
        await Assert.ThrowsAsync<InvalidCastException>(() => echo.Ask<string>(42, TimeSpan.FromSeconds(3)));
        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => echo.Ask<string>("silent", TimeSpan.FromSeconds(30), cts.Token));
    }

    [Fact]
    public void PoisonPill_stops_after_earlier_messages_and_watchers_get_Terminated()
    {
        var forwarder = Sys.ActorOf(Props.Create(() => new Forwarder(TestActor)));
        Probe.Watch(forwarder);
        forwarder.Tell("a", null);
        forwarder.Tell(PoisonPill.Instance, null);
        forwarder.Tell("b", null);
        Probe.ExpectMsg("a");
        var t = Probe.ExpectTerminated(forwarder);
        Assert.True(t.ExistenceConfirmed);
        Assert.False(t.AddressTerminated);
        Probe.ExpectNoMsg();
    }

    [Fact]
    public void Watching_a_stopped_actor_gives_Terminated_at_once_and_Unwatch_drops_it()
    {
        var a = Sys.ActorOf(Props.Create<Echo>());
        Probe.Watch(a);
        Sys.Stop(a);
        Probe.ExpectTerminated(a);
        var late = CreateTestProbe();
        late.Watch(a);
        late.ExpectTerminated(a);

        var b = Sys.ActorOf(Props.Create<Echo>());
        var p = CreateTestProbe();
        p.Watch(b);
        p.Unwatch(b);
        Sys.Stop(b);
        p.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    private sealed class Counter : ReceiveActor
    {
        public static readonly List<string> Hooks = [];
        private int _count;

        public Counter(IActorRef report)
        {
            Receive<string>(s => s == "get", _ => Sender.Tell(_count));
            Receive<string>(s => s == "boom", _ => throw new InvalidOperationException("boom"));
            Receive<string>(s => s == "bad-arg", _ => throw new ArgumentException("bad"));
            Receive<string>(s => s == "escalate", _ => throw new NotSupportedException("escalate"));
            Receive<int>(n => _count += n);
            _report = report;
        }

        private readonly IActorRef _report;

        protected override void PreStart() => _report.Tell("prestart");

        protected override void PostStop() => _report.Tell("poststop");

        protected override void PreRestart(Exception reason, object? message)
        {
            _report.Tell($"prerestart:{reason.Message}:{message}");
            base.PreRestart(reason, message);
        }

        protected override void PostRestart(Exception reason)
        {
            _report.Tell($"postrestart:{reason.Message}");
            base.PostRestart(reason);
        }
    }

    private sealed class Parent(Props childProps, SupervisorStrategy strategy) : ReceiveActor
    {
        protected override void PreStart()
        {
            var child = Context.ActorOf(childProps, "child");
            ReceiveAny(m => child.Forward(m));
        }

        protected override SupervisorStrategy SupervisorStrategy() => strategy;
    }

    private static Directive Decide(Exception e) => e switch
    {
        InvalidOperationException => Directive.Restart,
        ArgumentException => Directive.Resume,
        NotSupportedException => Directive.Escalate,
        _ => Directive.Stop,
    };

    [Fact]
    public async Task Supervisor_resumes_restarts_and_stops_as_decided()
    {
        var report = CreateTestProbe();
        var parent = Sys.ActorOf(Props.Create(() => new Parent(Props.Create(() => new Counter(report.Ref)), new OneForOneStrategy(Decide))));
        report.ExpectMsg("prestart");
        parent.Tell(5, null);
        parent.Tell("bad-arg", null);                       // Resume: state kept
        Assert.Equal(5, await parent.Ask<int>("get"));
        report.ExpectNoMsg();
        parent.Tell("boom", null);                          // Restart: hooks run, state reset
        report.ExpectMsg("prerestart:boom:boom");
        report.ExpectMsg("poststop");
        report.ExpectMsg("postrestart:boom");
        report.ExpectMsg("prestart");
        Assert.Equal(0, await parent.Ask<int>("get"));
    }

    [Fact]
    public async Task Restarts_beyond_the_limit_within_the_window_stop_the_child()
    {
        var report = CreateTestProbe();
        var strategy = new OneForOneStrategy(2, TimeSpan.FromMinutes(1), _ => Directive.Restart);
        var parent = Sys.ActorOf(Props.Create(() => new Parent(Props.Create(() => new Counter(report.Ref)), strategy)));
        report.ExpectMsg("prestart");
        var child = await Sys.ActorSelection("/user/" + parent.Path.Name + "/child").ResolveOne(TimeSpan.FromSeconds(3));
        Probe.Watch(child);
        for (int i = 0; i < 3; i++)
            parent.Tell("boom", null);
        Probe.ExpectTerminated(child);
    }

    [Fact]
    public void Escalate_fails_the_parent_whose_supervisor_restarts_it_and_its_children()
    {
        var report = CreateTestProbe();
        var parent = Sys.ActorOf(Props.Create(() => new Parent(Props.Create(() => new Counter(report.Ref)), new OneForOneStrategy(Decide))));
        report.ExpectMsg("prestart");
        parent.Tell("escalate", null);
        // The guardian restarts the parent: its old child is stopped and a new one started.
        report.ExpectMsg("poststop");
        report.ExpectMsg("prestart");
    }

    private sealed class FailsToStart : ActorBase
    {
        public FailsToStart() => throw new InvalidOperationException("no");

        protected override bool Receive(object message) => true;
    }

    [Fact]
    public void An_actor_whose_constructor_throws_is_stopped()
    {
        var a = Sys.ActorOf(Props.Create(() => new FailsToStart()));
        Probe.Watch(a);
        Probe.ExpectTerminated(a);
    }

    private sealed class Watcher(IActorRef target) : ReceiveActor
    {
        protected override void PreStart()
        {
            Context.Watch(target);
            Receive<string>(_ => { });
        }
    }

    [Fact]
    public void An_unhandled_Terminated_stops_the_watcher_with_a_death_pact()
    {
        var target = Sys.ActorOf(Props.Create<Echo>());
        var watcher = Sys.ActorOf(Props.Create(() => new Watcher(target)));
        Probe.Watch(watcher);
        Thread.Sleep(50);
        Sys.Stop(target);
        Probe.ExpectTerminated(watcher);
    }

    private sealed class AsyncActor : ReceiveActor
    {
        private readonly IActorRef _report;
        private int _inFlight;

        public AsyncActor(IActorRef report)
        {
            _report = report;
            ReceiveAsync<int>(async n =>
            {
                if (Interlocked.Increment(ref _inFlight) != 1)
                    report.Tell("overlap");
                var sender = Sender;
                await Task.Delay(n % 3 == 0 ? 5 : 1);
                Assert.Same(sender, Sender);   // Sender survives the await
                Interlocked.Decrement(ref _inFlight);
                report.Tell(n, Self);
            });
            ReceiveAsync<string>(async _ =>
            {
                await Task.Yield();
                throw new InvalidOperationException("async failure");
            });
        }

        protected override void PostRestart(Exception reason) => _report.Tell("restarted:" + reason.Message);
    }

    [Fact]
    public void ReceiveAsync_keeps_ordering_and_its_failures_reach_the_supervisor()
    {
        var a = Sys.ActorOf(Props.Create(() => new AsyncActor(TestActor)));
        for (int i = 0; i < 50; i++)
            a.Tell(i, TestActor);
        for (int i = 0; i < 50; i++)
            Probe.ExpectMsg(i);
        a.Tell("fail", TestActor);
        Probe.ExpectMsg("restarted:async failure");
        a.Tell(7, TestActor);
        Probe.ExpectMsg(7);
    }

    private sealed class Switcher : ReceiveActor
    {
        public Switcher()
        {
            Receive<string>(s => s == "swap", _ => Context.BecomeStacked(() => Receive<string>(s =>
            {
                if (s == "back")
                    Context.UnbecomeStacked();
                else
                    Sender.Tell("B:" + s);
            })));
            Receive<string>(s => Sender.Tell("A:" + s));
        }
    }

    [Fact]
    public void Become_and_Unbecome_switch_handlers()
    {
        var a = Sys.ActorOf(Props.Create<Switcher>());
        a.Tell("x", TestActor);
        Probe.ExpectMsg("A:x");
        a.Tell("swap", TestActor);
        a.Tell("y", TestActor);
        Probe.ExpectMsg("B:y");
        a.Tell("back", TestActor);
        a.Tell("z", TestActor);
        Probe.ExpectMsg("A:z");
    }

    private sealed class Stasher : ReceiveActor
    {
        public Stasher()
        {
            Receive<string>(s => s == "open", _ =>
            {
                Context.Become(() => ReceiveAny(m => Sender.Tell(m)));
                Stash.UnstashAll();
            });
            ReceiveAny(_ => Stash.Stash());
        }
    }

    [Fact]
    public void Stashed_messages_come_back_first_and_in_order()
    {
        var a = Sys.ActorOf(Props.Create<Stasher>());
        for (int i = 0; i < 5; i++)
            a.Tell(i, TestActor);
        a.Tell("open", TestActor);
        a.Tell(5, TestActor);
        for (int i = 0; i <= 5; i++)
            Probe.ExpectMsg(i);
    }

    private sealed class Sleepy : ReceiveActor
    {
        public Sleepy(IActorRef report)
        {
            Context.SetReceiveTimeout(TimeSpan.FromMilliseconds(100));
            Receive<ReceiveTimeout>(_ =>
            {
                report.Tell("timeout");
                Context.SetReceiveTimeout(null);
            });
        }
    }

    [Fact]
    public void ReceiveTimeout_arrives_when_idle()
    {
        Sys.ActorOf(Props.Create(() => new Sleepy(TestActor)));
        Probe.ExpectMsg("timeout");
        Probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Scheduler_sends_once_repeatedly_and_stops_when_cancelled()
    {
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(20), TestActor, "once", null);
        Probe.ExpectMsg("once");
        var repeating = Sys.Scheduler.ScheduleTellRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), TestActor, "tick", null);
        Probe.ExpectMsg("tick");
        Probe.ExpectMsg("tick");
        repeating.Cancel();
        Thread.Sleep(50);
        while (Probe.Count > 0)
            Probe.ExpectMsg("tick");
        Probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        var cancelled = Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(50), TestActor, "never", null);
        cancelled.Cancel();
        Probe.ExpectNoMsg(TimeSpan.FromMilliseconds(150));
    }

    private sealed record Animal(string Name);

    [Fact]
    public void EventStream_delivers_by_type_until_unsubscribed()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(Animal));
        Sys.EventStream.Publish(new Animal("cat"));
        Sys.EventStream.Publish("not an animal");
        Probe.ExpectMsg(new Animal("cat"));
        Sys.EventStream.Unsubscribe(TestActor, typeof(Animal));
        Sys.EventStream.Publish(new Animal("dog"));
        Probe.ExpectNoMsg();
    }

    [Fact]
    public void Dead_letters_are_counted_published_and_their_logging_is_rate_limited()
    {
        var system = CreateSystem("dl", new ActorSystemOptions { DeadLetterLogLimit = 3 });
        using var logs = new LogCapture(system);
        var p = CreateTestProbe(system);
        system.EventStream.Subscribe(p.Ref, typeof(DeadLetter));
        var a = system.ActorOf(Props.Create<Echo>());
        p.Watch(a);
        system.Stop(a);
        p.ExpectTerminated(a);
        long before = system.DeadLetters.Count;
        for (int i = 0; i < 20; i++)
            a.Tell(i, null);
        for (int i = 0; i < 20; i++)
            p.ExpectMsg<DeadLetter>(d => d.Message.Equals(i));
        Assert.Equal(before + 20, system.DeadLetters.Count);
        Assert.Equal(3, logs.Count(LogLevel.Information, "was not delivered"));
    }

    private sealed class Blocker(SemaphoreSlim gate, IActorRef report) : ReceiveActor
    {
        protected override void PreStart() => ReceiveAny(m =>
        {
            if (m is "block")
            {
                report.Tell("blocking");
                gate.Wait();
            }
            report.Tell(m);
        });
    }

    [Fact]
    public void Stop_overtakes_queued_user_messages()
    {
        using var gate = new SemaphoreSlim(0);
        var report = TestActor;
        var a = Sys.ActorOf(Props.Create(() => new Blocker(gate, report)));
        Probe.Watch(a);
        a.Tell("block", null);
        Probe.ExpectMsg("blocking");
        for (int i = 0; i < 1000; i++)
            a.Tell(i, null);
        Sys.Stop(a);                       // a system message, queued behind 1000 user messages
        gate.Release();
        Probe.ExpectMsg("block");
        // At most the messages of the run in progress go through before the stop.
        var terminated = Probe.FishForMessage<Terminated>(_ => true);
        Assert.Equal(a, terminated.ActorRef);
        Assert.True(Probe.Count < 10, $"{Probe.Count} messages after Terminated");
    }

    [Fact]
    public async Task A_bounded_mailbox_sends_overflow_to_dead_letters_and_SendAsync_waits_for_room()
    {
        using var gate = new SemaphoreSlim(0);
        var report = TestActor;
        var a = (LocalActorRef)Sys.ActorOf(Props.Create(() => new Blocker(gate, report)).WithBoundedMailbox(5, TimeSpan.Zero));
        a.Tell("block", null);
        Probe.ExpectMsg("blocking");
        long before = Sys.DeadLetters.Count;
        for (int i = 0; i < 10; i++)
            a.Tell(i, null);
        Assert.Equal(before + 5, Sys.DeadLetters.Count);
        var waiting = a.SendAsync("late", null).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        gate.Release();
        await waiting.WaitAsync(TimeSpan.FromSeconds(3));
        Probe.ExpectMsg("block");
        for (int i = 0; i < 5; i++)
            Probe.ExpectMsg(i);
        Probe.ExpectMsg("late");
    }

    [Fact]
    public async Task Coordinated_shutdown_runs_phases_in_order_then_terminates_the_system()
    {
        var system = CreateSystem("cs");
        var cs = CoordinatedShutdown.Get(system);
        var order = new List<string>();
        cs.AddTask(CoordinatedShutdown.PhaseClusterLeave, "leave", async _ => { await Task.Delay(20); lock (order) order.Add("leave"); });
        cs.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "unbind", _ => { lock (order) order.Add("unbind"); return Task.CompletedTask; });
        cs.AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "last", _ => { lock (order) order.Add("last"); return Task.CompletedTask; });
        cs.AddTask(CoordinatedShutdown.PhaseServiceStop, "hangs", _ => Task.Delay(Timeout.Infinite, CancellationToken.None));
        cs.SetPhaseTimeout(CoordinatedShutdown.PhaseServiceStop, TimeSpan.FromMilliseconds(100));
        var run = system.Terminate();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(["unbind", "leave", "last"], order);
        Assert.True(system.WhenTerminated.IsCompleted);
        Assert.Equal(ShutdownReason.ActorSystemTerminate, cs.Reason);
        Assert.Same(cs.Run(ShutdownReason.ClusterDowning), cs.Run(ShutdownReason.Unknown));
        Assert.Throws<ArgumentException>(() => cs.AddTask("no-such-phase", "x", _ => Task.CompletedTask));
    }

    [Fact]
    public async Task Children_stop_before_their_parent_and_names_are_unique_until_stopped()
    {
        var report = CreateTestProbe();
        var parent = Sys.ActorOf(Props.Create(() => new Parent(Props.Create(() => new Counter(report.Ref)), SupervisorStrategy.DefaultStrategy)), "p");
        report.ExpectMsg("prestart");
        Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<Echo>(), "p"));
        Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<Echo>(), "bad/name"));
        var child = await Sys.ActorSelection("/user/p/child").ResolveOne(TimeSpan.FromSeconds(3));
        Probe.Watch(parent);
        Sys.Stop(parent);
        report.ExpectMsg("poststop");
        Probe.ExpectTerminated(parent);
        Assert.True(((LocalActorRef)child).IsTerminated);
        await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection("/user/p/child").ResolveOne(TimeSpan.FromSeconds(1)));
        AwaitCondition(() =>
        {
            try
            {
                Sys.ActorOf(Props.Create<Echo>(), "p");
                return true;
            }
            catch (InvalidActorNameException)
            {
                return false;
            }
        });
    }

    [Fact]
    public async Task Terminate_stops_every_actor_and_completes()
    {
        var system = CreateSystem("term");
        var report = CreateTestProbe();
        for (int i = 0; i < 100; i++)
            system.ActorOf(Props.Create(() => new Counter(report.Ref)));
        report.ReceiveN(100);
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(5));
        var stops = report.ReceiveN(100);
        Assert.All(stops, s => Assert.Equal("poststop", s));
    }
}
