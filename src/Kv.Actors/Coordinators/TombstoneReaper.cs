using Kv.Actors.Objects;
using Kv.Actors.Vnode;
using Akka.Actor;

namespace Kv.Actors.Coordinators;

/// <summary>
/// Removes a deleted key for good, once its grace period has passed (one actor per delete): reads
/// the key from all N primaries; only if every one of them answers with the same object made of
/// tombstones alone (or of tombstones and values whose TTL has expired: <see cref="Expiry.Dead"/>) does it tell each to reap it (a vnode reaps only if it still holds exactly
/// that object, so a write that raced the delete survives). Any doubt (a replica missing, a live
/// value, a timeout) leaves the tombstone in place. Then it stops.
/// </summary>
public sealed class TombstoneReaper : ReceiveActor, IWithTimers
{
    private readonly byte[] _ns;
    private readonly byte[] _key;
    private readonly IReadOnlyList<ReplicaRef> _primaries;
    private readonly long _requestId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly Dictionary<int, DvvSet<Sibling>?> _answers = [];
    private readonly TimeSpan _timeout;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Timeout
    {
        public static readonly Timeout Instance = new();
    }

    public TombstoneReaper(byte[] ns, byte[] key, IReadOnlyList<ReplicaRef> primaries, TimeSpan timeout)
    {
        (_ns, _key, _primaries, _timeout) = (ns, key, primaries, timeout);
        Receive<VnodeGetReply>(OnReply);
        Receive<Timeout>(_ => Context.Stop(Self));
    }

    protected override void PreStart()
    {
        Timers.StartSingleTimer(Timeout.Instance, Timeout.Instance, _timeout);
        foreach (var p in _primaries)
            p.Vnode.Tell(new VnodeGet(_ns, _key, _requestId), Self);
    }

    private void OnReply(VnodeGetReply reply)
    {
        if (reply.RequestId != _requestId || reply.Error is not null)
        {
            if (reply.RequestId == _requestId)
                Context.Stop(Self);
            return;
        }
        _answers[reply.Partition] = reply.Object;
        if (_answers.Count < _primaries.Count)
            return;
        var first = _answers.Values.First();
        // Tombstones, or values all past their expiry (TTL), on every primary alike.
        if (first is not null && Expiry.Dead(first, TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds()) && _answers.Values.All(o => o is not null && o.SameAs(first)))
        {
            foreach (var p in _primaries)
                p.Vnode.Tell(new VnodeReap(_ns, _key, first), Self);
            Context.System.EventStream.Publish(new TombstoneReaped(_ns, _key));
        }
        Context.Stop(Self);
    }
}

/// <summary>From a vnode's reaping sweep to its node's router: the key's tombstone is past its grace; start a reaper.</summary>
public sealed record ReapTombstone(byte[] Namespace, byte[] Key);

/// <summary>Published when a deleted key's tombstones were reaped on all primaries.</summary>
public sealed record TombstoneReaped(byte[] Namespace, byte[] Key);
