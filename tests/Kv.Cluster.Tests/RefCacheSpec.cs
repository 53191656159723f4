using Kv.Cluster.Actor;
using Kv.Cluster.Remote;
using Xunit;

namespace Kv.Cluster.Tests;

public sealed class RefCacheSpec
{
    private sealed class Ref(string path) : IActorRef
    {
        public ActorPath Path { get; } = ActorPath.Parse("kv://test@127.0.0.1:1/user/" + path);

        public void Tell(object message, IActorRef? sender)
        {
        }
    }

    [Fact]
    public void Finds_what_it_holds_forgets_what_was_pushed_out_and_never_grows()
    {
        var cache = new RefCache(100); // rounded up to 128 slots
        var a = new Ref("a");
        cache.Set("/user/a", a);
        Assert.True(cache.TryGet("/user/a", out var found));
        Assert.Same(a, found);
        Assert.False(cache.TryGet("/user/b", out _));

        // Many more paths than slots: every lookup is either the latest ref stored for that path or a miss.
        var refs = Enumerable.Range(0, 10_000).Select(i => new Ref("r" + i)).ToList();
        foreach (var r in refs)
            cache.Set(r.Path.ToStringWithoutAddress(), r);
        int hits = 0;
        foreach (var r in refs)
        {
            if (cache.TryGet(r.Path.ToStringWithoutAddress(), out var got))
            {
                Assert.Same(r, got);
                hits++;
            }
        }
        Assert.InRange(hits, 1, 128);
    }

    [Fact]
    public void Anonymous_actors_are_not_admitted_so_per_request_refs_never_push_out_named_ones()
    {
        // One slot each: any admitted path would replace the router. One cache is keyed by strings, one by bytes.
        var byString = new RefCache(1);
        var byBytes = new RefCache(1);
        var router = new Ref("router");
        byString.Set("/user/router", router);
        byBytes.Set("/user/router"u8, router);
        foreach (var path in new[] { "/user/router/$17", "/temp/$3", "kv://kv@127.0.0.1:2551/temp/$9" })
        {
            byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(path);
            byString.Set(path, new Ref("x"));
            byBytes.Set(utf8, new Ref("x"));
            Assert.False(byString.TryGet(path, out _));
            Assert.False(byBytes.TryGet(utf8, out _));
        }
        Assert.True(byString.TryGet("/user/router", out var found));
        Assert.Same(router, found);
        Assert.True(byBytes.TryGet("/user/router"u8, out found));
        Assert.Same(router, found);

        // A '$' elsewhere than at the start of the last element is an ordinary name.
        Assert.False(RefCache.IsAnonymous("/user/$1/vnode-3"));
        Assert.False(RefCache.IsAnonymous("/user/a$b"u8));
        Assert.True(RefCache.IsAnonymous("/user/router/$5"u8));
    }

    [Fact]
    public void Concurrent_readers_and_writers_only_ever_see_the_ref_of_the_path_they_ask_for()
    {
        var cache = new RefCache(16);
        var refs = Enumerable.Range(0, 64).Select(i => new Ref("c" + i)).ToArray();
        Parallel.For(0, 4, worker =>
        {
            var random = new Random(worker);
            for (int i = 0; i < 200_000; i++)
            {
                var r = refs[random.Next(refs.Length)];
                string key = r.Path.ToStringWithoutAddress();
                if ((i & 1) == 0)
                    cache.Set(key, r);
                else if (cache.TryGet(key, out var got))
                    Assert.Same(r, got);
            }
        });
    }
}
