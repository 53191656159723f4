using System.Collections.Immutable;
using System.Globalization;
using Kv.Actors.Ring;
using Akka.Actor;
using Akka.Cluster.Sharding;

namespace Kv.Actors.Consistent;

/// <summary>
/// Places the Paxos proposer of partition q (shard q) on the shard region of q's owner in the
/// ring, or, when that node has no region (yet), on the requesting region (else the one with the
/// fewest shards); rebalances a few shards at a time to their owners' regions when the ring has
/// moved. The ring comes from this node's ring manager (the strategy runs in the shard coordinator).
/// </summary>
public sealed class RingShardAllocationStrategy(ActorSystem system, string selfNode) : IShardAllocationStrategy
{
    /// <summary>At most this many shards move per rebalance round.</summary>
    public const int MaxMovesPerRound = 8;

    public async Task<IActorRef> AllocateShard(IActorRef requester, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations)
    {
        var ring = await RingAsync().ConfigureAwait(false);
        if (ring is not null && OwnerRegion(ring, shardId, currentShardAllocations) is { } owner)
            return owner;
        if (currentShardAllocations.ContainsKey(requester) || currentShardAllocations.Count == 0)
            return requester;
        return currentShardAllocations.OrderBy(kv => kv.Value.Count).First().Key;
    }

    public async Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations, IImmutableSet<string> rebalanceInProgress)
    {
        var ring = await RingAsync().ConfigureAwait(false);
        var moves = ImmutableHashSet.CreateBuilder<string>();
        if (ring is null || rebalanceInProgress.Count >= MaxMovesPerRound)
            return moves.ToImmutable();
        foreach (var (region, shards) in currentShardAllocations)
        {
            foreach (var shard in shards)
            {
                if (moves.Count + rebalanceInProgress.Count >= MaxMovesPerRound)
                    return moves.ToImmutable();
                if (rebalanceInProgress.Contains(shard))
                    continue;
                if (OwnerRegion(ring, shard, currentShardAllocations) is { } owner && !owner.Equals(region))
                    moves.Add(shard);
            }
        }
        return moves.ToImmutable();
    }

    private IActorRef? OwnerRegion(Ring.Ring ring, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> regions)
    {
        if (!int.TryParse(shardId, NumberStyles.None, CultureInfo.InvariantCulture, out int q) || q < 0 || q >= ring.Size)
            return null;
        string owner = ring.Owners[q];
        return regions.Keys.FirstOrDefault(r => NodeOf(r) == owner);
    }

    private string NodeOf(IActorRef region) => region.Path.Address.HasLocalScope ? selfNode : region.Path.Address.ToString();

    private async Task<Ring.Ring?> RingAsync()
    {
        try
        {
            var reply = await system.ActorSelection("/user/" + KvPaths.RingManager).Ask<CurrentRing>(GetRing.Instance, TimeSpan.FromSeconds(3)).ConfigureAwait(false);
            return reply.Ring;
        }
        catch (Exception e) when (e is AskTimeoutException or ActorNotFoundException or TaskCanceledException)
        {
            return null;
        }
    }
}
