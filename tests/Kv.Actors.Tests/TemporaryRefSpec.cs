using Akka.Actor;
using Akka.Dispatch.SysMsg;
using Kv.Actors.Coordinators;
using Kv.Client;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>Per-request temporary refs: a path (and its registration) only when something asks for it.</summary>
public sealed class TemporaryRefSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(KvTestConfig.Local, output: output)
{
    private sealed class Slot(IActorRefProvider provider) : TemporaryRef(provider)
    {
        public readonly List<object> Got = [];

        protected override void TellInternal(object message, IActorRef sender)
        {
            lock (Got)
                Got.Add(message);
        }

        public override void SendSystemMessage(ISystemMessage message)
        {
        }

        public void End() => Close();
    }

    private IActorRefProvider Provider => ((ExtendedActorSystem)Sys).Provider;

    private sealed class Echo : ReceiveActor
    {
        public Echo() => ReceiveAny(m => Sender.Tell("re:" + m));
    }

    [Fact]
    public async Task A_reply_told_within_the_node_needs_no_path()
    {
        var echo = Sys.ActorOf(Props.Create(() => new Echo()));
        var slot = new Slot(Provider);
        echo.Tell("a", slot);
        await AwaitConditionAsync(() => { lock (slot.Got) return slot.Got.Count == 1; });
        Assert.Equal("re:a", slot.Got[0]);
        Assert.False(slot.HasPath);
        // The client's reply slots are such refs: an ask answered in the node registers nothing.
        Assert.Equal("re:b", await ReplyPromise.Ask(Sys, echo, "b", TimeSpan.FromSeconds(5), CancellationToken.None));
    }

    [Fact]
    public void A_path_asked_for_resolves_to_the_ref_until_it_is_closed()
    {
        var slot = new Slot(Provider);
        var path = slot.Path;
        Assert.True(slot.HasPath);
        Assert.Equal("temp", path.Elements[0]);
        Assert.Same(path, slot.Path);
        var found = Provider.ResolveActorRef(path);
        Assert.Same(slot, found);
        found.Tell("by path");
        Assert.Equal(["by path"], slot.Got);
        slot.End();
        Assert.NotSame(slot, Provider.ResolveActorRef(path));
    }

    [Fact]
    public void A_path_asked_for_after_the_end_is_not_registered()
    {
        var slot = new Slot(Provider);
        slot.End();
        var path = slot.Path;
        Assert.NotSame(slot, Provider.ResolveActorRef(path));
    }

    [Fact]
    public void Paths_asked_for_on_many_threads_at_once_are_one_registered_path()
    {
        for (int round = 0; round < 50; round++)
        {
            var slot = new Slot(Provider);
            var paths = new ActorPath[4];
            Parallel.For(0, paths.Length, i => paths[i] = slot.Path);
            Assert.All(paths, p => Assert.Same(paths[0], p));
            Assert.Same(slot, Provider.ResolveActorRef(paths[0]));
            slot.End();
            Assert.NotSame(slot, Provider.ResolveActorRef(paths[0]));
        }
    }
}
