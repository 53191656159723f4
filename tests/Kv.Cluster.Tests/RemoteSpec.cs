using System.Diagnostics;
using Kv.Cluster.Actor;
using Kv.Cluster.Remote;
using Kv.Cluster.TestKit;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kv.Cluster.Tests;

public sealed class RemoteSpec(ITestOutputHelper output) : TestKit.TestKit(output)
{
    internal sealed class Echo : ReceiveActor
    {
        public Echo()
        {
            Receive<string>(s => s == "stop", _ => Context.Stop(Self));
            ReceiveAny(m => Sender.Tell(m));
        }
    }

    private (ActorSystem A, ActorSystem B) TwoSystems(RemoteOptions? a = null, RemoteOptions? b = null) =>
        (CreateRemoteSystem("A", a), CreateRemoteSystem("B", b));

    private static IActorRef Remote(ActorSystem from, ActorSystem to, string path) =>
        from.ResolveActorRef(ActorPath.Parse(to.Address + path));

    /// <summary>An echo on B, reached once from A and watched by a probe on A.</summary>
    private (IActorRef Echo, TestProbe Probe) WatchedEcho(ActorSystem a, ActorSystem b)
    {
        b.ActorOf(Props.Create<Echo>(), "echo");
        var echo = Remote(a, b, "/user/echo");
        var probe = CreateTestProbe(a);
        probe.Watch(echo);
        echo.Tell("ping", probe.Ref);
        probe.ExpectMsg("ping", TimeSpan.FromSeconds(5));
        return (echo, probe);
    }

    [Fact]
    public async Task Tell_and_Ask_cross_systems_and_keep_order_per_pair()
    {
        var (a, b) = TwoSystems();
        b.ActorOf(Props.Create<Echo>(), "echo");
        var echo = Remote(a, b, "/user/echo");
        Assert.IsType<RemoteActorRef>(echo);
        Assert.Equal("hello", await echo.Ask<string>("hello", TimeSpan.FromSeconds(5)));
        var probe = CreateTestProbe(a);
        for (long i = 0; i < 5000; i++)
            echo.Tell(i, probe.Ref);
        for (long i = 0; i < 5000; i++)
            probe.ExpectMsg(i, TimeSpan.FromSeconds(10));
        var resolved = await a.ActorSelection(b.Address + "/user/echo").ResolveOne(TimeSpan.FromSeconds(5));
        Assert.Equal(echo, resolved);
        await Assert.ThrowsAsync<ActorNotFoundException>(() => a.ActorSelection(b.Address + "/user/nobody").ResolveOne(TimeSpan.FromSeconds(5)));
    }

    internal sealed class Spawner : ReceiveActor
    {
        public Spawner() => Receive<string>(s => s == "spawn", _ => Context.ActorOf(Props.Create<Echo>()).Tell("hi", Sender));
    }

    [Fact]
    public void Anonymous_actors_are_reached_and_answered_across_systems_and_one_that_is_gone_is_an_unknown_target()
    {
        var (a, b) = TwoSystems();
        b.ActorOf(Props.Create<Spawner>(), "spawner");
        var probe = CreateTestProbe(a);
        Remote(a, b, "/user/spawner").Tell("spawn", probe.Ref);
        probe.ExpectMsg("hi", TimeSpan.FromSeconds(5)); // sent by an anonymous child of the spawner
        var child = probe.LastSender!;
        Assert.IsType<RemoteActorRef>(child);
        Assert.Equal(b.Address + "/user/spawner/" + child.Path.Name, child.Path.ToString());
        Assert.StartsWith("$", child.Path.Name, StringComparison.Ordinal);
        for (int i = 0; i < 3; i++)
        {
            probe.Reply("again-" + i); // to the anonymous child, which echoes it
            probe.ExpectMsg("again-" + i, TimeSpan.FromSeconds(5));
            Assert.Equal(child, probe.LastSender);
        }

        var transportB = (RemoteTransport)b.Transport!;
        long unknownBefore = transportB.Stats.UnknownTargets;
        child.Tell("stop", null);
        probe.Watch(child);
        probe.ExpectTerminated(child, TimeSpan.FromSeconds(5));
        child.Tell("lost", probe.Ref);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.True(transportB.Stats.UnknownTargets > unknownBefore, "a message to a stopped anonymous actor counts as an unknown target");
    }

    [Fact]
    public void Remote_death_watch_reports_a_stopped_actor_and_a_missing_one()
    {
        var (a, b) = TwoSystems();
        var (echo, probe) = WatchedEcho(a, b);
        echo.Tell("stop", null);
        var t = probe.ExpectTerminated(echo, TimeSpan.FromSeconds(5));
        Assert.True(t.ExistenceConfirmed);
        Assert.False(t.AddressTerminated);

        var missing = Remote(a, b, "/user/missing");
        probe.Watch(missing);
        Assert.False(probe.ExpectTerminated(missing, TimeSpan.FromSeconds(5)).ExistenceConfirmed);
    }

    [Fact]
    public async Task A_message_over_the_maximum_frame_size_is_refused_at_the_sender_with_an_error()
    {
        var (a, b) = TwoSystems(TestKit.TestKit.FastRemote() with { MaximumFrameSize = 64 * 1024 });
        using var logs = new LogCapture(a);
        b.ActorOf(Props.Create<Echo>(), "echo");
        var echo = Remote(a, b, "/user/echo");
        var e = await Assert.ThrowsAsync<MessageRejectedException>(() => echo.Ask<byte[]>(new byte[100_000], TimeSpan.FromSeconds(5)));
        Assert.Contains("exceeds remote.maximum-frame-size", e.Message, StringComparison.Ordinal);
        logs.Expect(LogLevel.Warning, "refused to send Byte[]");
        Assert.Equal(1, a.Transport!.Stats.RejectedMessages);
        var ok = await echo.Ask<byte[]>(new byte[60_000], TimeSpan.FromSeconds(5));
        Assert.Equal(60_000, ok.Length);

        var unknown = await Assert.ThrowsAsync<MessageRejectedException>(() => echo.Ask<object>(new Version(1, 2), TimeSpan.FromSeconds(5)));
        Assert.Contains("no serializer", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_peer_with_the_wrong_secret_is_refused_and_logged()
    {
        var (a, b) = TwoSystems(b: TestKit.TestKit.FastRemote() with { Secret = "other" });
        using var logsA = new LogCapture(a);
        using var logsB = new LogCapture(b);
        var probe = CreateTestProbe(b);
        b.ActorOf(Props.Create(() => new Forward(probe.Ref)), "sink");
        var sink = Remote(a, b, "/user/sink");
        sink.Tell("secret stuff", null);
        logsA.Expect(LogLevel.Warning, "wrong secret", TimeSpan.FromSeconds(5));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        Assert.True(a.Transport!.Stats.RefusedHandshakes > 0);
        // And the other way round: B dialling A is refused by A.
        var back = Remote(b, a, "/user/whatever");
        back.Tell("x", null);
        logsB.Expect(LogLevel.Warning, "wrong secret", TimeSpan.FromSeconds(5));
    }

    private sealed class Forward(IActorRef to) : ReceiveActor
    {
        protected override void PreStart() => ReceiveAny(m => to.Tell(m, Sender));
    }

    [Fact]
    public async Task A_restarted_system_at_the_same_address_quarantines_the_old_incarnation()
    {
        var a = CreateRemoteSystem("A");
        var b1 = CreateRemoteSystem("B");
        int port = b1.Address.Port!.Value;
        b1.ActorOf(Props.Create<Echo>(), "echo");
        var echo = Remote(a, b1, "/user/echo");
        Assert.Equal("one", await echo.Ask<string>("one", TimeSpan.FromSeconds(5)));
        ulong oldUid = a.Transport!.UidOf(b1.Address);
        Assert.Equal(b1.Uid, oldUid);
        var quarantined = CreateTestProbe(a);
        a.EventStream.Subscribe(quarantined.Ref, typeof(QuarantinedEvent));
        await b1.Terminate();

        var b2 = CreateRemoteSystem("B", TestKit.TestKit.FastRemote(port));
        b2.ActorOf(Props.Create<Echo>(), "echo");
        Assert.Equal("two", await RetryAsk(echo, "two"));
        var q = quarantined.ExpectMsg<QuarantinedEvent>(TimeSpan.FromSeconds(5));
        Assert.Equal(oldUid, q.Uid);
        Assert.Equal(b2.Uid, a.Transport.UidOf(b2.Address));
    }

    [Fact]
    public async Task A_departed_peer_is_dialled_again_only_when_there_is_something_to_send_to_it()
    {
        // B (a client, say) talks to A and leaves; A held an association to B for the replies.
        // Heartbeats every 2 ms: one is queued for B when the link drops, and must not count as something to send.
        var a = CreateRemoteSystem("A", TestKit.TestKit.FastRemote() with { ReconnectMaxBackoff = TimeSpan.FromMilliseconds(50), HeartbeatInterval = TimeSpan.FromMilliseconds(2) });
        var b = CreateRemoteSystem("B");
        int port = b.Address.Port!.Value;
        a.ActorOf(Props.Create<Echo>(), "echo");
        Assert.Equal("hi", await Remote(b, a, "/user/echo").Ask<string>("hi", TimeSpan.FromSeconds(5)));
        await b.Terminate();
        // Count A's dial attempts at B's old address.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
        listener.Server.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
        listener.Start();
        int dials = 0;
        var accepting = Task.Run(async () =>
        {
            while (true)
            {
                using var connection = await listener.AcceptTcpClientAsync();
                Interlocked.Increment(ref dials);
            }
        });
        try
        {
            // The lost connection is re-dialled once at once (that dial may or may not reach this listener).
            await Task.Delay(500);
            int settled = Volatile.Read(ref dials);
            Assert.InRange(settled, 0, 1);
            await Task.Delay(1500); // 50 ms backoff: an association re-dialling forever would have tried ~20 times
            Assert.Equal(settled, Volatile.Read(ref dials));
            Remote(a, b, "/user/echo").Tell("anyone there?");
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (Volatile.Read(ref dials) == settled && DateTime.UtcNow < deadline)
                await Task.Delay(20);
            Assert.True(Volatile.Read(ref dials) > settled, "a message for the departed peer did not make A dial it again");
        }
        finally
        {
            listener.Stop();
            await Assert.ThrowsAnyAsync<Exception>(() => accepting);
        }
    }

    private static async Task<string> RetryAsk(IActorRef target, string message)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await target.Ask<string>(message, TimeSpan.FromMilliseconds(500));
            }
            catch (AskTimeoutException) when (sw.Elapsed < TimeSpan.FromSeconds(10))
            {
            }
        }
    }

    [Fact]
    public async Task Fault_rules_blackhole_drop_one_way_delay_throttle_and_disconnect()
    {
        var (a, b) = TwoSystems();
        b.ActorOf(Props.Create<Echo>(), "echo");
        var echo = Remote(a, b, "/user/echo");
        var probe = CreateTestProbe(a);
        echo.Tell("warm", probe.Ref);
        probe.ExpectMsg("warm", TimeSpan.FromSeconds(5));

        a.Transport!.Rules.Set(b.Address, FaultRule.Blackhole);
        echo.Tell("lost", probe.Ref);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        a.Transport.Rules.Set(b.Address, FaultRule.PassThrough);
        echo.Tell("back", probe.Ref);
        probe.ExpectMsg("back", TimeSpan.FromSeconds(5));

        // One way: A receives nothing from B, but B still gets A's messages.
        var sinkProbe = CreateTestProbe(b);
        b.ActorOf(Props.Create(() => new Forward(sinkProbe.Ref)), "sink");
        a.Transport.Rules.Set(b.Address, FaultRule.DropOneWay(FaultDirection.Receive));
        Remote(a, b, "/user/sink").Tell("one-way", null);
        sinkProbe.ExpectMsg("one-way", TimeSpan.FromSeconds(5));
        echo.Tell("reply is dropped", probe.Ref);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        a.Transport.Rules.Set(b.Address, FaultRule.PassThrough);

        a.Transport.Rules.Set(b.Address, FaultRule.Delay(TimeSpan.FromMilliseconds(300)));
        var sw = Stopwatch.StartNew();
        Assert.Equal("slow", await echo.Ask<string>("slow", TimeSpan.FromSeconds(5)));
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(290), $"delay rule: reply after {sw.ElapsedMilliseconds} ms");

        a.Transport.Rules.Set(b.Address, FaultRule.Throttle(50_000));
        sw.Restart();
        for (int i = 0; i < 10; i++)
            echo.Tell(new byte[10_000], probe.Ref);
        probe.ReceiveN(10, TimeSpan.FromSeconds(10));
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(1500), $"100 KB at 50 KB/s took {sw.ElapsedMilliseconds} ms");
        a.Transport.Rules.Set(b.Address, FaultRule.PassThrough);

        var disassociated = CreateTestProbe(a);
        a.EventStream.Subscribe(disassociated.Ref, typeof(DisassociatedEvent));
        a.Transport.Rules.Disconnect(b.Address);
        disassociated.ExpectMsg<DisassociatedEvent>(TimeSpan.FromSeconds(5));
        Assert.Equal("reconnected", await RetryAsk(echo, "reconnected"));
    }

    [Fact]
    public void An_unreachable_watched_system_is_declared_failed_and_quarantined_and_then_refuses_it()
    {
        var (a, b) = TwoSystems();
        var (echo, probe) = WatchedEcho(a, b);
        var sw = Stopwatch.StartNew();
        a.Transport!.Rules.Set(b.Address, FaultRule.Blackhole);
        var t = probe.ExpectTerminated(echo, TimeSpan.FromSeconds(10));
        Assert.True(t.AddressTerminated);
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(1.5), $"declared failed after {sw.ElapsedMilliseconds} ms");
        a.Transport.Rules.Set(b.Address, FaultRule.PassThrough);

        var quarantined = CreateTestProbe(b);
        b.EventStream.Subscribe(quarantined.Ref, typeof(ThisActorSystemQuarantinedEvent));
        Remote(b, a, "/user/anyone").Tell("hello?", null);
        quarantined.ExpectMsg<ThisActorSystemQuarantinedEvent>(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Terminate_of_a_remote_system_gives_Terminated_for_its_actors()
    {
        var (a, b) = TwoSystems();
        var (echo, probe) = WatchedEcho(a, b);
        await b.Terminate();
        probe.ExpectTerminated(echo, TimeSpan.FromSeconds(10));
    }
}
