using Akka.Actor;
using Kv.Client;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>The client's reply slot per request attempt: answered, timed out by the shared sweep, abandoned.</summary>
public sealed class ReplyPromiseSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private sealed class Echo : ReceiveActor
    {
        public Echo() => ReceiveAny(m => { if (m is not "silent") Sender.Tell("re:" + m); });
    }

    [Fact]
    public async Task A_reply_completes_the_attempt_and_its_ref_is_gone_after()
    {
        var echo = Sys.ActorOf(Props.Create(() => new Echo()));
        var replies = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => ReplyPromise.Ask(Sys, echo, i.ToString(), TimeSpan.FromSeconds(5), CancellationToken.None)));
        Assert.Equal(Enumerable.Range(0, 200).Select(i => "re:" + i), replies.Cast<string>());
    }

    [Fact]
    public async Task No_reply_times_out_close_to_the_deadline_and_a_late_reply_is_dropped()
    {
        var probe = CreateTestProbe();
        var started = DateTime.UtcNow;
        var attempt = ReplyPromise.Ask(Sys, probe, "hello", TimeSpan.FromMilliseconds(300), CancellationToken.None);
        var asked = probe.ExpectMsg<string>();
        var replyTo = probe.LastSender;
        await Assert.ThrowsAsync<AskTimeoutException>(() => attempt.WaitAsync(TimeSpan.FromSeconds(5)));
        var waited = DateTime.UtcNow - started;
        Assert.InRange(waited, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(2));
        replyTo.Tell("too late"); // dropped: the attempt already ended
        Assert.IsType<AskTimeoutException>(attempt.Exception!.InnerException);
        Assert.Equal("hello", asked);
    }

    [Fact]
    public async Task An_abandoned_attempt_ends_at_once_with_a_cancellation()
    {
        var probe = CreateTestProbe();
        using var down = new CancellationTokenSource();
        var attempt = ReplyPromise.Ask(Sys, probe, "read", TimeSpan.FromSeconds(30), down.Token);
        probe.ExpectMsg("read");
        down.Cancel();
        var done = await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.Same(attempt, done);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => attempt);
    }
}
