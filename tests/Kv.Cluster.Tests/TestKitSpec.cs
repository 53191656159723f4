using Kv.Cluster.Actor;
using Kv.Cluster.TestKit;
using Kv.Cluster.TestKit.MultiNode;
using Xunit.Abstractions;

namespace Kv.Cluster.Tests;

/// <summary>The test kit must fail when expectations are not met; otherwise every spec built on it could pass vacuously.</summary>
public sealed class TestKitSpec(ITestOutputHelper output) : TestKit.TestKit(output)
{
    [Fact]
    public void Expectations_fail_on_wrong_missing_or_unexpected_messages()
    {
        TestActor.Tell("text", null);
        Assert.Throws<TestKitException>(() => Probe.ExpectMsg<int>());
        Assert.Throws<TestKitException>(() => Probe.ExpectMsg<string>(TimeSpan.FromMilliseconds(50)));
        TestActor.Tell(1, null);
        Assert.Throws<TestKitException>(() => Probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200)));
        TestActor.Tell(2, null);
        Assert.Throws<TestKitException>(() => Probe.ExpectMsg<int>(n => n == 3));
        foreach (var m in new object[] { "a", 1, "b", 42 })
            TestActor.Tell(m, null);
        Assert.Equal(42, Probe.FishForMessage<int>(n => n > 10));
        Assert.Throws<TestKitException>(() => Probe.Within(TimeSpan.FromMilliseconds(100), () => Thread.Sleep(300)));
        Assert.Throws<TestKitException>(() => Probe.Within(TimeSpan.FromMilliseconds(200), () => Probe.ExpectMsg<string>(TimeSpan.FromSeconds(5))));
    }

    [Fact]
    public async Task A_multi_node_spec_fails_when_a_role_fails_or_misses_a_barrier()
    {
        var failing = await Assert.ThrowsAsync<TestKitException>(() => MultiNodeTestRunner.RunAsync<FailingRoleSpec>(Output));
        Assert.Contains("role second (incarnation 1) exited with code 1", failing.Message, StringComparison.Ordinal);
        Assert.Contains("deliberate failure on second", failing.Message, StringComparison.Ordinal);
        var stuck = await Assert.ThrowsAsync<TestKitException>(() => MultiNodeTestRunner.RunAsync<MissedBarrierSpec>(Output));
        Assert.Contains("barrier never-together timed out", stuck.Message, StringComparison.Ordinal);
    }
}

public sealed class FailingRoleSpec : MultiNodeSpec
{
    public override IReadOnlyList<string> Roles => ["first", "second"];

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        await ctx.EnterBarrier("up");
        if (ctx.Role == "second")
            throw new InvalidOperationException("deliberate failure on second");
        await ctx.EnterBarrier("down");
    }
}

public sealed class MissedBarrierSpec : MultiNodeSpec
{
    public override IReadOnlyList<string> Roles => ["first", "second"];

    public override TimeSpan BarrierTimeout => TimeSpan.FromSeconds(2);

    public override async Task RunAsync(MultiNodeContext ctx)
    {
        if (ctx.Role == "first")
            await ctx.EnterBarrier("never-together");
        else
            await Task.Delay(TimeSpan.FromSeconds(30));
    }
}
