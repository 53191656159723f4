using System.Diagnostics;
using Kv.Cluster.Actor;
using Kv.Cluster.Remote;
using Kv.Cluster.TestKit;
using Kv.Cluster.TestKit.MultiNode;
using Xunit.Abstractions;

namespace Kv.Cluster.Tests;

/// <summary>Multi-process specs: every role is its own OS process on 127.0.0.1.</summary>
public sealed class MultiNodeSpecs(ITestOutputHelper output)
{
    [Fact]
    public Task Kill_9_is_detected_by_remote_death_watch_and_the_restarted_node_is_served_again() =>
        MultiNodeTestRunner.RunAsync<KillAndRestartSpec>(output);

    [Fact]
    public Task Blackhole_and_throttle_between_processes_then_heal() =>
        MultiNodeTestRunner.RunAsync<PartitionSpec>(output);
}

/// <summary>first watches an actor on second; second is killed with SIGKILL, then restarted on the same port.</summary>
public sealed class KillAndRestartSpec : MultiNodeSpec
{
    public override IReadOnlyList<string> Roles => ["first", "second"];

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        if (ctx.Role == "second")
        {
            ctx.System.ActorOf(Props.Create<RemoteSpec.Echo>(), "echo");
            if (ctx.Incarnation == 1)
            {
                await ctx.EnterBarrier("started");
                await ctx.EnterBarrier("watching");
                await Task.Delay(System.Threading.Timeout.Infinite); // killed here
            }
            await ctx.EnterBarrier("restarted");
            await ctx.EnterBarrier("done");
            return;
        }

        await ctx.EnterBarrier("started");
        var echo = ctx.System.ResolveActorRef(ActorPath.Parse(ctx.AddressOf("second") + "/user/echo"));
        Expect(await echo.Ask<string>("hello", TimeSpan.FromSeconds(10)) == "hello", "echo answers");
        var watcher = new TestProbe(ctx.System);
        watcher.Watch(echo);
        await ctx.EnterBarrier("watching");

        var sw = Stopwatch.StartNew();
        await ctx.Kill("second");
        var terminated = watcher.ExpectTerminated(echo, TimeSpan.FromSeconds(15));
        Expect(terminated.AddressTerminated, "Terminated says the address was lost");
        ctx.Log($"Terminated {sw.ElapsedMilliseconds} ms after kill -9");
        ulong oldUid = ctx.System.Transport!.UidOf(ctx.AddressOf("second"));

        await ctx.Restart("second");
        await ctx.EnterBarrier("restarted");
        string reply = "";
        for (int attempt = 0; attempt < 20 && reply != "again"; attempt++)
        {
            try
            {
                reply = await echo.Ask<string>("again", TimeSpan.FromSeconds(1));
            }
            catch (AskTimeoutException)
            {
            }
        }
        Expect(reply == "again", "the new incarnation answers at the same path");
        Expect(ctx.System.Transport.UidOf(ctx.AddressOf("second")) != oldUid, "a new uid was seen");
        await ctx.EnterBarrier("done");
    }

    internal static void Expect(bool condition, string what)
    {
        if (!condition)
            throw new TestKitException("expectation failed: " + what);
    }
}

/// <summary>Blackhole a|b while c keeps talking to both; throttle a->c; heal.</summary>
public sealed class PartitionSpec : MultiNodeSpec
{
    public override IReadOnlyList<string> Roles => ["a", "b", "c"];

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        ctx.System.ActorOf(Props.Create<RemoteSpec.Echo>(), "echo");
        await ctx.EnterBarrier("up");
        IActorRef Echo(string role) => ctx.System.ResolveActorRef(ActorPath.Parse(ctx.AddressOf(role) + "/user/echo"));
        foreach (var other in Roles.Where(r => r != ctx.Role))
            KillAndRestartSpec.Expect(await Echo(other).Ask<string>("hi", TimeSpan.FromSeconds(10)) == "hi", $"{ctx.Role} reaches {other}");
        await ctx.EnterBarrier("connected");

        await ctx.RunOn("a", () => ctx.Blackhole("a", "b"));
        await ctx.EnterBarrier("partitioned");
        if (ctx.Role is "a" or "b")
        {
            string other = ctx.Role == "a" ? "b" : "a";
            bool reached = true;
            try
            {
                await Echo(other).Ask<string>("through the hole?", TimeSpan.FromMilliseconds(700));
            }
            catch (AskTimeoutException)
            {
                reached = false;
            }
            KillAndRestartSpec.Expect(!reached, $"{ctx.Role} must not reach {other} through the blackhole");
            KillAndRestartSpec.Expect(await Echo("c").Ask<string>("via c", TimeSpan.FromSeconds(5)) == "via c", $"{ctx.Role} still reaches c");
        }
        await ctx.EnterBarrier("checked-partition");

        await ctx.RunOn("a", async () =>
        {
            await ctx.Throttle("a", "c", 20_000);
            var sw = Stopwatch.StartNew();
            var replies = Enumerable.Range(0, 4).Select(_ => Echo("c").Ask<byte[]>(new byte[10_000], TimeSpan.FromSeconds(20))).ToArray();
            await Task.WhenAll(replies);
            ctx.Log($"40 KB a->c at 20 KB/s took {sw.ElapsedMilliseconds} ms");
            KillAndRestartSpec.Expect(sw.Elapsed >= TimeSpan.FromSeconds(1.5), "throttle slows a->c");
            await ctx.PassThrough("a", "c");
            await ctx.PassThrough("a", "b");
        });
        await ctx.EnterBarrier("healed");
        foreach (var other in Roles.Where(r => r != ctx.Role))
            KillAndRestartSpec.Expect(await Echo(other).Ask<string>("again", TimeSpan.FromSeconds(10)) == "again", $"{ctx.Role} reaches {other} after healing");
        await ctx.EnterBarrier("done");
    }
}
