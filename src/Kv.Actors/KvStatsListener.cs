using Akka.Actor;
using Kv.Actors.Coordinators;

namespace Kv.Actors;

/// <summary>Counts what the store publishes on the event stream (read repairs, reaped tombstones) into the node's <see cref="KvStats"/>.</summary>
public sealed class KvStatsListener : ReceiveActor
{
    public KvStatsListener(KvStats stats)
    {
        Receive<ReadRepaired>(r => stats.ReadRepair(r.Replicas));
        Receive<TombstoneReaped>(_ => stats.Reaped());
        Receive<Vnode.CorruptionFound>(_ => stats.CorruptRead());
        Receive<Vnode.TableRewritten>(_ => stats.TableRepaired());
    }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(ReadRepaired));
        Context.System.EventStream.Subscribe(Self, typeof(TombstoneReaped));
        Context.System.EventStream.Subscribe(Self, typeof(Vnode.CorruptionFound));
        Context.System.EventStream.Subscribe(Self, typeof(Vnode.TableRewritten));
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
