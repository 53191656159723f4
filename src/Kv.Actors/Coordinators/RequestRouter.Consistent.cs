using System.Text;
using Kv.Actors.Consistent;
using Kv.Actors.Crdt;
using Akka.Actor;
using Akka.Cluster.Sharding;

namespace Kv.Actors.Coordinators;

/// <summary>
/// Requests on consistent namespaces (consistent = on): each becomes a <see cref="ConsistentRequest"/>
/// for the Paxos proposer of the key's partition, a sharding entity placed on the partition's owner
/// (<see cref="PaxosProposer"/>). The acceptors are the key's N primaries from the ring, never
/// fallbacks: with fewer than a majority of them reachable the request fails at once (Unavailable).
/// When the partition's owner is not an Up, reachable member (its proposer may be there and cannot
/// be reached), this node runs the operation itself: Paxos is safe with any number of proposers.
/// </summary>
public sealed partial class RequestRouter
{
    /// <summary>The sharding type name of the proposers.</summary>
    public const string PaxosTypeName = "kv-paxos";

    private BallotClock? _fallbackBallots;
    private IActorRef? _paxosRegion;

    private void ReceiveConsistent()
    {
        Receive<KvCas>(OnCas);
        Receive<PaxosOperation.Done>(_ => { }); // operations this router ran itself: nothing queued here
    }

    private bool IsConsistent(byte[] ns) => _options.PropsOf(NameOf(ns)).Consistent;

    private void OnCas(KvCas cas)
    {
        string name = Encoding.UTF8.GetString(cas.Namespace);
        if (!_options.PropsOf(name).Consistent)
        {
            if (!(_options.StrictNamespaces && !_options.Namespaces.ContainsKey(name)))
            {
                Fail($"namespace '{name}' is not consistent: compare-and-swap needs a namespace with consistent = on");
                return;
            }
        }
        if (cas.NewValue.Length > _options.MaxObjectBytes)
        {
            Fail($"a value of {cas.NewValue.Length} bytes exceeds kv.max-object-size ({_options.MaxObjectBytes} bytes)", FailureCode.ValueTooLarge);
            return;
        }
        RouteConsistent(cas.Namespace, cas.Key, cas.Options, new ConsistentOp(ConsistentOpKind.Cas, cas.NewValue, "application/octet-stream", cas.Expected, 0));
    }

    /// <summary>A put, delete, get or update on a consistent namespace; false when the namespace is not one.</summary>
    private bool TryConsistent(object request)
    {
        switch (request)
        {
            case KvPut put when IsConsistent(put.Namespace):
                if (put.Ttl is not null)
                    Fail($"namespace '{Encoding.UTF8.GetString(put.Namespace)}' is consistent: a TTL is not supported there");
                else if (put.Value.Value.Length > _options.MaxObjectBytes)
                    Fail($"a value of {put.Value.Value.Length} bytes exceeds kv.max-object-size ({_options.MaxObjectBytes} bytes)", FailureCode.ValueTooLarge);
                else if (put.Value.ContentType.Length > 255)
                    Fail("a content type must be at most 255 characters");
                else
                    RouteConsistent(put.Namespace, put.Key, put.Options, new ConsistentOp(ConsistentOpKind.Put, put.Value.Value, put.Value.ContentType, null, 0));
                return true;
            case KvDelete delete when IsConsistent(delete.Namespace):
                RouteConsistent(delete.Namespace, delete.Key, delete.Options, ConsistentOp.Delete);
                return true;
            case KvGet get when IsConsistent(get.Namespace):
                RouteConsistent(get.Namespace, get.Key, get.Options, ConsistentOp.Get);
                return true;
            case KvExists exists when IsConsistent(exists.Namespace):
                RouteConsistent(exists.Namespace, exists.Key, exists.Options, ConsistentOp.Get);
                return true;
            case KvUpdate update when IsConsistent(update.Namespace):
                if (update.Op.Kind != CrdtOpKind.Increment)
                    Fail($"namespace '{Encoding.UTF8.GetString(update.Namespace)}' is consistent: of the data type operations only incr/decr (on a decimal 64-bit integer value) are supported there");
                else
                    RouteConsistent(update.Namespace, update.Key, update.Options, new ConsistentOp(ConsistentOpKind.Increment, [], "", null, update.Op.Amount));
                return true;
            default:
                return false;
        }
    }

    private void RouteConsistent(byte[] ns, byte[] key, RequestOptions options, ConsistentOp op)
    {
        var props = Prepare(ns, key, options);
        if (props is null)
            return;
        var list = KnownRing!.PreferenceList(ns, key, props.NVal);
        var primaries = list.Select(r => (r.Partition, r.Node)).ToList();
        int majority = primaries.Count / 2 + 1;
        int reachable = PaxosOperation.ReachablePrimaries(Context.System, primaries);
        if (reachable < majority)
        {
            Fail($"unavailable: only {reachable} of the key's {primaries.Count} primaries are reachable; a consistent operation needs a majority ({majority})", FailureCode.Unavailable);
            return;
        }
        if (op.Kind == ConsistentOpKind.Get)
            _stats.Get();
        else
            _stats.Put();
        int partition = list[0].Partition;
        var request = new ConsistentRequest(partition, ns, key, primaries, op, (long)props.Timeout.TotalMilliseconds);
        string owner = KnownRing.Owners[partition];
        if (PaxosRegion() is { } region && Reachable(owner) && Up(owner))
        {
            region.Forward(request);
            return;
        }
        // The proposer's node is away: propose from here (safe; it may duel with that proposer if it still runs).
        _fallbackBallots ??= new BallotClock(_self + "#router-" + Guid.NewGuid().ToString("N")[..8]);
        var acceptors = PaxosProposer.Acceptors(Context.System, primaries);
        var (clock, replyTo) = (_fallbackBallots, Sender);
        Context.ActorOf(KvProps.Of(() => new PaxosOperation(request, acceptors, clock, replyTo)));
    }

    private IActorRef? PaxosRegion()
    {
        if (_paxosRegion is not null)
            return _paxosRegion;
        try
        {
            _paxosRegion = ClusterSharding.Get(Context.System).ShardRegion(PaxosTypeName);
        }
        catch (ArgumentException)
        {
            // Not started on this node (a store started without sharding): operations run here.
        }
        return _paxosRegion;
    }
}
