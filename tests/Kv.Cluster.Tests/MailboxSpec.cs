using Kv.Cluster.Actor;
using Xunit.Abstractions;

namespace Kv.Cluster.Tests;

/// <summary>
/// The mailbox goes idle and is rescheduled on almost every message when only one message is in
/// flight; a lost wake-up (a sender and a finishing run both thinking the other will run the
/// mailbox) shows as a hang here.
/// </summary>
public sealed class MailboxSpec(ITestOutputHelper output) : TestKit.TestKit(output)
{
    private sealed class Bouncer(IActorRef? partner, int rounds, TaskCompletionSource done) : ActorBase
    {
        private int _count;

        protected override bool Receive(object message)
        {
            if (partner is null)
            {
                Sender.Tell(message, Self);
                return true;
            }
            if (++_count == rounds)
                done.TrySetResult();
            else
                partner.Tell(message, Self);
            return true;
        }
    }

    [Fact]
    public async Task One_message_in_flight_ping_pong_never_loses_a_wake_up()
    {
        const int Pairs = 4;
        const int Rounds = 50_000;
        var tasks = new List<Task>();
        for (int p = 0; p < Pairs; p++)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var pong = Sys.ActorOf(Props.Create(() => new Bouncer(null, 0, done)));
            var ping = Sys.ActorOf(Props.Create(() => new Bouncer(pong, Rounds, done)));
            pong.Tell("ball", ping);
            tasks.Add(done.Task);
        }
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
    }

    private sealed class Child : ActorBase
    {
        protected override bool Receive(object message)
        {
            Context.Parent.Tell(message, Self);
            Context.Stop(Self);
            return true;
        }
    }

    private sealed class Spawner(int count, TaskCompletionSource done) : ActorBase
    {
        private int _finished;

        protected override void PreStart()
        {
            for (int i = 0; i < 100; i++)
                Context.ActorOf(Props.Create(() => new Child())).Tell(i, Self);
        }

        protected override bool Receive(object message)
        {
            if (++_finished == count)
                done.TrySetResult();
            else if (_finished <= count - 100)
                Context.ActorOf(Props.Create(() => new Child())).Tell(message, Self);
            return true;
        }
    }

    [Fact]
    public async Task Spawning_and_stopping_many_short_lived_actors_completes()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Sys.ActorOf(Props.Create(() => new Spawner(200_000, done)));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }
}
