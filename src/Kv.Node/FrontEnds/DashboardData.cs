using Akka.Actor;
using Kv.Actors;
using Kv.Actors.Aae;
using Kv.Actors.Admin;
using Kv.Actors.Hints;
using Kv.Actors.Metrics;
using Kv.Actors.Vnode;

namespace Kv.Node.FrontEnds;

/// <summary>
/// What the dashboard shows, as this node sees it: the members with status and reachability (this
/// node's view), the ring (owner and next owner per partition), and from every member it can reach
/// (asked at once, 1.5 s each; an unreachable member is not asked, so a dead node never slows the
/// page) its request rate and latency, hints, anti-entropy and transfers.
/// </summary>
public static class DashboardData
{
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(1.5);

    public static async Task<object> BuildAsync(FrontEndContext ctx)
    {
        var system = ctx.System;
        var status = await ctx.Node.Admin.Ask<ClusterStatus>(GetClusterStatus.Instance, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var asked = status.Members
            .Where(m => m.Reachable && m.Status is not ("Down" or "Removed" or "Exiting"))
            .Select(m => m.Address)
            .ToList();
        var nodes = await Task.WhenAll(asked.Select(async node =>
        {
            var metrics = AskOrNull<MetricsSnapshot>(system, node, KvPaths.Admin, GetMetricsSnapshot.Instance);
            var hints = AskOrNull<HintStatus>(system, node, KvPaths.HintStore, GetHintStatus.Instance);
            var aae = AskOrNull<AaeStatus>(system, node, KvPaths.Aae, GetAaeStatus.Instance);
            var transfers = AskOrNull<HandoffStatus>(system, node, KvPaths.VnodeManager, GetHandoffStatus.Instance);
            return (Node: node, Metrics: await metrics.ConfigureAwait(false), Hints: await hints.ConfigureAwait(false),
                Aae: await aae.ConfigureAwait(false), Transfers: await transfers.ConfigureAwait(false));
        })).ConfigureAwait(false);

        var ring = status.Ring;
        return new
        {
            self = status.Self,
            leader = status.Leader,
            convergence = status.Convergence,
            serving = status.Serving,
            takenAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            members = status.Members.Select(m => new { address = m.Address, status = m.Status, reachable = m.Reachable, self = m.Address == status.Self }),
            ring = ring is null ? null : new { size = ring.Size, owners = ring.Owners, pending = ring.Pending, settled = ring.Settled },
            nodes = nodes.Select(n => new
            {
                node = n.Node,
                answered = n.Metrics is not null,
                opsPerSecond = n.Metrics?.Sum("kv.requests.rate"),
                p50Ms = n.Metrics?.Sum("kv.request.latency.p50"),
                p99Ms = n.Metrics?.Sum("kv.request.latency.p99"),
                requests = n.Metrics?.Sum("kv.requests"),
                quorumFailures = n.Metrics?.Sum("kv.quorum.failures"),
                readRepairs = n.Metrics?.Sum("kv.read_repairs"),
                hintsPending = n.Metrics?.Sum("kv.hints.pending"),
                hintsDelivered = n.Metrics?.Sum("kv.hints.delivered"),
                hintsDropped = n.Metrics?.Sum("kv.hints.dropped"),
                aaeExchanges = n.Metrics?.Sum("kv.aae.exchanges"),
                aaeKeysRepaired = n.Metrics?.Sum("kv.aae.keys_repaired"),
                handoffBytes = n.Metrics?.Sum("kv.handoff.size"),
                memtableBytes = n.Metrics?.Sum("kv.storage.memtable.size"),
                blockCacheHitRatio = n.Metrics?.Sum("kv.storage.block_cache.hit_ratio"),
                mailboxMax = n.Metrics?.Sum("kv.vnode.mailbox.depth", "stat=max"),
                vnodes = n.Metrics?.Sum("kv.vnodes"),
            }),
            transfers = nodes.SelectMany(n => (n.Transfers?.Transfers ?? []).Select(t => new
            {
                node = n.Node,
                partition = t.Partition,
                target = t.Target,
                state = t.State.ToString(),
                keys = t.Keys,
                bytes = t.Bytes,
                lastError = t.LastError,
            })),
            hints = nodes.SelectMany(n => (n.Hints?.Targets ?? []).Select(t => new
            {
                node = n.Node,
                target = t.Target,
                count = t.Count,
                bytes = t.Bytes,
                oldestAgeMs = t.OldestAgeMs,
                state = t.State,
                dropped = t.Dropped,
                delivered = t.Delivered,
            })),
            aae = nodes.Where(n => n.Aae is not null).Select(n => new
            {
                node = n.Node,
                trees = n.Aae!.Trees.Count,
                treesBuilt = n.Aae.Trees.Count(t => t.BuiltMs > 0),
                building = n.Aae.Trees.Count(t => t.Building),
                exchanges = n.Aae.Exchanges.Count,
                lastExchangeMs = n.Aae.Exchanges.Count == 0 ? 0 : n.Aae.Exchanges.Max(e => e.EndedMs),
                keysRepaired = n.Aae.Exchanges.Sum(e => e.TotalRepaired),
            }),
        };
    }

    private static async Task<T?> AskOrNull<T>(ActorSystem system, string node, string actor, object question) where T : class
    {
        try
        {
            return await KvPaths.On(system, node, actor).Ask<T>(question, PeerTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return null;
        }
    }
}
