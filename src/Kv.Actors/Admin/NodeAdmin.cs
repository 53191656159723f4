using Kv.Actors.Ring;
using Kv.Actors.Vnode;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;
using Akka.Remote.Transport;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Admin;

/// <summary>
/// The node's administration endpoint (at /user/kv-admin), used by the client library and the
/// `kv cluster ...` commands: cluster status with the ring, handoff progress gathered from every
/// member, leave (this node hands off and leaves; another node's leave is passed on to it) and down.
/// </summary>
public sealed class NodeAdmin : RingFollower
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(3);
    private readonly string _self;
    private readonly int _defaultNVal;
    private readonly Func<Task> _leave;
    private readonly bool _chaosEnabled;
    private readonly HashSet<Address> _blocked = [];
    private Task? _leaving;

    /// <summary>The namespaces whose operations are linearizable here, told to clients with the ring (<see cref="CurrentRing.ConsistentNamespaces"/>).</summary>
    public IReadOnlyList<string> ConsistentNamespaces { get; init; } = [];

    /// <summary>The access control every request passes first (null: none).</summary>
    public Security.KvAccessControl? Access { get; init; }

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (Access is null)
            return base.AroundReceive(receive, message);
        if (Access.Check(message, Sender, out var inner, out var principal) is { } refused)
        {
            Log.Warning("refused {0} from {1}: {2}", inner.GetType().Name, Sender.Path.Address, refused.Reason);
            Sender.Tell(refused, Self);
            return true;
        }
        if (inner is LeaveNode or DownNode)
            Log.Info("{0} requested by {1} ({2})", inner, principal, Sender.Path.Address);
        return base.AroundReceive(receive, inner);
    }

    public NodeAdmin(string self, int defaultNVal, Func<Task> leave, bool chaosEnabled = false)
    {
        (_self, _defaultNVal, _leave, _chaosEnabled) = (self, defaultNVal, leave, chaosEnabled);
        Receive<GetRing>(_ => Sender.Tell(new CurrentRing(KnownRing) { ConsistentNamespaces = ConsistentNamespaces }, Self));
        Receive<GetClusterStatus>(_ => Sender.Tell(Status(), Self));
        ReceiveAsync<GetTransfers>(OnGetTransfers);
        ReceiveAsync<Hints.GetClusterHints>(OnGetHints);
        ReceiveAsync<Aae.GetClusterAae>(OnGetAae);
        Receive<Metrics.GetMetricsSnapshot>(_ => Sender.Tell(Metrics.KvMetrics.For(Context.System).Snapshot(_self), Self));
        ReceiveAsync<Metrics.GetClusterMetrics>(OnGetMetrics);
        ReceiveAsync<LeaveNode>(OnLeave);
        Receive<DownNode>(OnDown);
        ReceiveAsync<ChaosSetFaults>(OnChaosSetFaults);
    }

    private ClusterStatus Status()
    {
        var state = ClusterExt.Get(Context.System).State;
        var unreachable = state.Unreachable.Select(m => m.UniqueAddress).ToHashSet();
        var members = state.Members
            .Select(m => new MemberInfo(m.Address.ToString(), m.Status.ToString(), !unreachable.Contains(m.UniqueAddress), m.Roles.ToList()))
            .ToList();
        return new ClusterStatus(_self, state.Leader?.ToString(), ClusterConvergence.Of(state), members, KnownRing, _defaultNVal) { Serving = Serving };
    }

    private async Task OnGetTransfers(GetTransfers _)
    {
        var replyTo = Sender;
        var results = await AskEveryMember<HandoffStatus>(KvPaths.VnodeManager, GetHandoffStatus.Instance).ConfigureAwait(true);
        replyTo.Tell(new ClusterTransfers(results.Select(r => new NodeTransfers(r.Node, r.Answer, r.Error)).ToList()), Self);
    }

    private async Task OnGetHints(Hints.GetClusterHints _)
    {
        var replyTo = Sender;
        var results = await AskEveryMember<Hints.HintStatus>(KvPaths.HintStore, Hints.GetHintStatus.Instance).ConfigureAwait(true);
        replyTo.Tell(new Hints.ClusterHints(results.Select(r => new Hints.NodeHints(r.Node, r.Answer, r.Error)).ToList()), Self);
    }

    private async Task OnGetAae(Aae.GetClusterAae _)
    {
        var replyTo = Sender;
        var results = await AskEveryMember<Aae.AaeStatus>(KvPaths.Aae, Aae.GetAaeStatus.Instance).ConfigureAwait(true);
        replyTo.Tell(new Aae.ClusterAae(results.Select(r => new Aae.NodeAae(r.Node, r.Answer, r.Error)).ToList()), Self);
    }

    private async Task OnGetMetrics(Metrics.GetClusterMetrics _)
    {
        var replyTo = Sender;
        // This node's own snapshot is taken here: asked through its mailbox, this actor (busy
        // awaiting the others) could not answer it.
        // Members this node sees as unreachable are not asked (named with an error at once).
        var own = new Metrics.NodeMetrics(_self, Metrics.KvMetrics.For(Context.System).Snapshot(_self), null);
        var unreachable = ClusterExt.Get(Context.System).State.Unreachable.Select(m => m.Address.ToString()).ToHashSet(StringComparer.Ordinal);
        var results = await AskEveryMember<Metrics.MetricsSnapshot>(KvPaths.Admin, Metrics.GetMetricsSnapshot.Instance, except: [_self, .. unreachable]).ConfigureAwait(true);
        replyTo.Tell(new Metrics.ClusterMetrics(results.Select(r => new Metrics.NodeMetrics(r.Node, r.Answer, r.Error))
            .Prepend(own)
            .Concat(unreachable.Order(StringComparer.Ordinal).Select(u => new Metrics.NodeMetrics(u, null, "unreachable from " + _self)))
            .ToList()), Self);
    }

    /// <summary>Asks the actor at /user/<paramref name="name"/> on every member (not down or removed), all at once.</summary>
    private async Task<(string Node, T? Answer, string? Error)[]> AskEveryMember<T>(string name, object question, IReadOnlyCollection<string>? except = null) where T : class
    {
        var nodes = ClusterExt.Get(Context.System).State.Members
            .Where(m => m.Status is not (MemberStatus.Down or MemberStatus.Removed) && except?.Contains(m.Address.ToString()) != true)
            .Select(m => m.Address.ToString())
            .ToList();
        var system = Context.System;
        return await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                return (node, await KvPaths.On(system, node, name).Ask<T>(question, PeerTimeout).ConfigureAwait(false), (string?)null);
            }
            catch (AskTimeoutException)
            {
                return (node, (T?)null, $"no answer within {PeerTimeout.TotalSeconds:0} s");
            }
        })).ConfigureAwait(true);
    }

    /// <summary>The member named by <paramref name="node"/>: its full address, or host:port.</summary>
    private Member? Find(string node) =>
        ClusterExt.Get(Context.System).State.Members.FirstOrDefault(m =>
            m.Address.ToString() == node || m.Address.ToString().EndsWith("@" + node, StringComparison.Ordinal));

    private async Task OnLeave(LeaveNode leave)
    {
        var replyTo = Sender;
        var member = Find(leave.Node);
        if (member is null)
        {
            replyTo.Tell(new AdminReply(false, $"no member '{leave.Node}' in the cluster"), Self);
            return;
        }
        string address = member.Address.ToString();
        if (address != _self)
        {
            try
            {
                var reply = await KvPaths.On(Context.System, address, KvPaths.Admin).Ask<AdminReply>(new LeaveNode(address), PeerTimeout).ConfigureAwait(true);
                replyTo.Tell(reply, Self);
            }
            catch (AskTimeoutException)
            {
                replyTo.Tell(new AdminReply(false, $"{address} did not answer within {PeerTimeout.TotalSeconds:0} s"), Self);
            }
            return;
        }
        if (_leaving is null || _leaving.IsCompleted)
        {
            int owned = KnownRing?.Owners.Count(o => o == _self) ?? 0;
            var log = Log;
            _leaving = Task.Run(async () =>
            {
                try
                {
                    await _leave().ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    log.Error(e, $"leave of {_self} failed");
                }
            });
            replyTo.Tell(new AdminReply(true, $"{_self} is leaving: handing off {owned} partitions, then leaving the cluster"), Self);
            return;
        }
        replyTo.Tell(new AdminReply(true, $"{_self} is already leaving"), Self);
    }

    private void OnDown(DownNode down)
    {
        var member = Find(down.Node);
        if (member is null)
        {
            Sender.Tell(new AdminReply(false, $"no member '{down.Node}' in the cluster"), Self);
            return;
        }
        ClusterExt.Get(Context.System).Down(member.Address);
        Sender.Tell(new AdminReply(true, $"{member.Address} marked down; its partitions move to the other nodes"), Self);
    }

    /// <summary>
    /// Chaos testing only (kv.chaos.enabled): blackholes the links to the named nodes and clears
    /// the rules of the nodes blocked before but not named now. Bad input changes nothing.
    /// </summary>
    private async Task OnChaosSetFaults(ChaosSetFaults faults)
    {
        var replyTo = Sender;
        if (!_chaosEnabled)
        {
            replyTo.Tell(new AdminReply(false, $"{_self} refuses fault injection: kv.chaos.enabled is off on this node"), Self);
            return;
        }
        var wanted = new HashSet<Address>();
        foreach (string node in faults.Blocked)
        {
            Address address;
            try
            {
                address = Address.Parse(node);
            }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                address = Address.AllSystems;
            }
            if (!address.HasGlobalScope)
            {
                replyTo.Tell(new AdminReply(false, $"'{node}' is not a node address (akka.tcp://system@host:port); nothing changed"), Self);
                return;
            }
            if (node != _self)
                wanted.Add(address);
        }
        // Akka.Remote's throttler adapter (applied-adapters = ["trttl"], on only with kv.chaos.enabled),
        // the mechanism of Akka's own TestConductor: Blackhole drops everything both ways on the link.
        var transport = ((IRemoteActorRefProvider)((ExtendedActorSystem)Context.System).Provider).Transport;
        try
        {
            foreach (var healed in _blocked.Where(a => !wanted.Contains(a)).ToList())
            {
                await transport.ManagementCommand(new SetThrottle(healed, ThrottleTransportAdapter.Direction.Both, Unthrottled.Instance)).ConfigureAwait(true);
                _blocked.Remove(healed);
            }
            foreach (var address in wanted.Where(a => !_blocked.Contains(a)).ToList())
            {
                await transport.ManagementCommand(new SetThrottle(address, ThrottleTransportAdapter.Direction.Both, Blackhole.Instance)).ConfigureAwait(true);
                _blocked.Add(address);
            }
        }
        catch (Exception e)
        {
            replyTo.Tell(new AdminReply(false, $"{_self}: the throttler refused ({e.Message}); is akka.remote.dot-netty.tcp.applied-adapters = [\"trttl\"] set?"), Self);
            return;
        }
        string now = _blocked.Count == 0 ? "no node blocked" : "blocked: " + string.Join(", ", _blocked.Select(a => a.ToString()).Order(StringComparer.Ordinal));
        Log.Warning("chaos: {0}", now);
        replyTo.Tell(new AdminReply(true, $"{_self}: {now}"), Self);
    }
}
