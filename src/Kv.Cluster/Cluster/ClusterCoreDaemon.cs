using System.Collections.Immutable;
using Kv.Cluster.Actor;
using Kv.Cluster.Cluster.Protos;
using Kv.Cluster.Event;

namespace Kv.Cluster.Cluster;

/// <summary>
/// The membership state machine of one node (/system/cluster): joining through seeds, gossip
/// (push-pull to one peer per round, only a version status when the peer has seen ours), leader
/// actions on convergence, reachability from the heartbeat sender, downing requests from the
/// split-brain resolver, and the cluster events. Everything else asks it through messages.
/// </summary>
internal sealed partial class ClusterCoreDaemon : ReceiveActor
{
    private readonly Cluster _cluster;
    private readonly ClusterOptions _options;
    private readonly UniqueAddress _self;
    private readonly IActorRef _heartbeatSender;
    private readonly IActorRef _resolver;
    private Gossip _gossip = Gossip.Empty;
    private bool _joined;
    private IReadOnlyList<Address> _seeds = [];
    private Address? _joinTarget;
    private bool _firstSeedForming;
    private int _notConvergedTicks;
    private bool _shuttingDown;
    private int _upNumberHint;
    private readonly ICancelable _gossipTimer;
    private readonly ICancelable _leaderTimer;
    private ICancelable? _joinTimer;

    public ClusterCoreDaemon(Cluster cluster)
    {
        _cluster = cluster;
        _options = cluster.Options;
        _self = cluster.SelfUniqueAddress;
        _heartbeatSender = Context.ActorOf(Props.Create(() => new ClusterHeartbeatSender(cluster)), "heartbeatSender");
        Context.ActorOf(Props.Create(() => new ClusterHeartbeatReceiver(cluster.SelfUniqueAddress)), "heartbeatReceiver");
        _resolver = Context.ActorOf(Props.Create(() => new SplitBrainResolver(cluster)), "downingProvider");
        var scheduler = Context.System.Scheduler;
        _gossipTimer = scheduler.ScheduleTellRepeatedly(_options.GossipInterval, _options.GossipInterval, Self, ClusterCommands.GossipTick.Instance, null);
        _leaderTimer = scheduler.ScheduleTellRepeatedly(_options.LeaderActionsInterval, _options.LeaderActionsInterval, Self, ClusterCommands.LeaderActionsTick.Instance, null);

        Receive<ClusterCommands.JoinSeedNodes>(j => StartJoinSeedNodes(j.Seeds));
        Receive<ClusterCommands.JoinTo>(j => StartJoin(j.Address));
        Receive<ClusterCommands.FirstSeedTimeout>(_ => OnFirstSeedTimeout());
        Receive<ClusterCommands.JoinRetryTick>(_ => RetryJoin());
        Receive<InitJoinData>(OnInitJoin);
        Receive<InitJoinAckData>(OnInitJoinAck);
        Receive<JoinData>(OnJoin);
        Receive<WelcomeData>(OnWelcome);
        Receive<JoinRefusedData>(r => Log.Warning($"join refused by {Sender.Path.Address}: {r.Reason}"));
        Receive<GossipEnvelopeData>(OnGossip);
        Receive<GossipStatusData>(OnGossipStatus);
        Receive<ClusterCommands.GossipTick>(_ => GossipTick());
        Receive<ClusterCommands.LeaderActionsTick>(_ => LeaderActions());
        Receive<ClusterCommands.Leave>(l => ChangeStatus(l.Address, MemberStatus.Leaving, "leave requested"));
        Receive<LeaveData>(l => ChangeStatus(GossipCodec.FromProto(l.Address), MemberStatus.Leaving, "leave requested by " + Sender.Path.Address));
        Receive<ClusterCommands.Down>(d => ChangeStatus(d.Address, MemberStatus.Down, "down requested"));
        Receive<DownData>(d => ChangeStatus(GossipCodec.FromProto(d.Address), MemberStatus.Down, "down requested by " + Sender.Path.Address));
        Receive<ClusterCommands.DownMembers>(OnDownMembers);
        Receive<ClusterCommands.MarkUnreachable>(m => UpdateReachability(m.Node, reachable: false));
        Receive<ClusterCommands.MarkReachable>(m => UpdateReachability(m.Node, reachable: true));
        Receive<ClusterCommands.Subscribe>(OnSubscribe);
        Receive<ClusterCommands.Unsubscribe>(u => Context.System.EventStream.Unsubscribe(u.Subscriber));
        Receive<ClusterCommands.ShutdownSelf>(_ => _cluster.ShutdownSelf());
    }

    protected override void PreStart()
    {
        if (_options.SeedNodes.Count > 0)
            Self.Tell(new ClusterCommands.JoinSeedNodes(_options.SeedNodes.Select(Address.Parse).ToList()), null);
    }

    protected override void PostStop()
    {
        _gossipTimer.Cancel();
        _leaderTimer.Cancel();
        _joinTimer?.Cancel();
    }

    private IActorRef CoreAt(Address address) =>
        Context.System.ResolveActorRef(ActorPath.Parse(address + "/system/cluster"));

    private long NowMs => Context.System.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- joining ----------------------------------------------------------------------------

    private void StartJoinSeedNodes(IReadOnlyList<Address> seeds)
    {
        if (_joined)
            return;
        _seeds = seeds;
        var others = seeds.Where(s => !s.Equals(_self.Address)).ToList();
        _firstSeedForming = seeds.Count > 0 && seeds[0].Equals(_self.Address);
        Log.Info($"joining through seed nodes [{string.Join(", ", seeds)}]{(_firstSeedForming ? " (first seed: forms the cluster if no other seed answers)" : "")}");
        if (_firstSeedForming && others.Count == 0)
        {
            JoinSelf();
            return;
        }
        foreach (var seed in others)
            CoreAt(seed).Tell(new InitJoinData { Cluster = Context.System.Name }, Self);
        if (_firstSeedForming)
            Context.System.Scheduler.ScheduleTellOnce(_options.SeedNodeTimeout, Self, ClusterCommands.FirstSeedTimeout.Instance, null);
        _joinTimer?.Cancel();
        _joinTimer = Context.System.Scheduler.ScheduleTellRepeatedly(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), Self, ClusterCommands.JoinRetryTick.Instance, null);
    }

    private void OnFirstSeedTimeout()
    {
        if (!_joined && _joinTarget is null)
        {
            Log.Info($"no other seed node answered within {_options.SeedNodeTimeout.TotalSeconds:0.#} s: forming a new cluster");
            JoinSelf();
        }
    }

    private void RetryJoin()
    {
        if (_joined)
        {
            _joinTimer?.Cancel();
            return;
        }
        if (_joinTarget is not null)
        {
            SendJoin(_joinTarget);
            return;
        }
        foreach (var seed in _seeds.Where(s => !s.Equals(_self.Address)))
            CoreAt(seed).Tell(new InitJoinData { Cluster = Context.System.Name }, Self);
    }

    private void OnInitJoin(InitJoinData init)
    {
        bool member = _joined && _gossip.Member(_self) is { Status: not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting) };
        if (init.Cluster != Context.System.Name)
        {
            Log.Warning($"ignoring InitJoin for cluster '{init.Cluster}' from {Sender.Path.Address}: this is cluster '{Context.System.Name}'");
            return;
        }
        Sender.Tell(new InitJoinAckData { Address = GossipCodec.ToProto(_self), IsMember = member }, Self);
    }

    private void OnInitJoinAck(InitJoinAckData ack)
    {
        if (_joined || _joinTarget is not null || !ack.IsMember)
            return;
        var target = GossipCodec.FromProto(ack.Address).Address;
        Log.Info($"seed {target} answered; joining it");
        StartJoin(target);
    }

    private void StartJoin(Address target)
    {
        if (_joined)
            return;
        if (target.Equals(_self.Address))
        {
            JoinSelf();
            return;
        }
        _joinTarget = target;
        SendJoin(target);
        _joinTimer?.Cancel();
        _joinTimer = Context.System.Scheduler.ScheduleTellRepeatedly(_options.RetryUnsuccessfulJoinAfter, _options.RetryUnsuccessfulJoinAfter, Self, ClusterCommands.JoinRetryTick.Instance, null);
    }

    private void SendJoin(Address target)
    {
        var join = new JoinData { Node = GossipCodec.ToProto(_self), Cluster = Context.System.Name };
        join.Roles.AddRange(_options.Roles);
        CoreAt(target).Tell(join, Self);
    }

    private void JoinSelf()
    {
        if (_joined)
            return;
        _joined = true;
        _joinTimer?.Cancel();
        Update(Gossip.Empty.WithMember(new Member(_self, MemberStatus.Joining, _options.Roles, 0)).Changed(_self));
        Log.Info($"formed a new cluster at {_self.Address}");
    }

    private void OnJoin(JoinData join)
    {
        UniqueAddress node;
        try
        {
            node = GossipCodec.FromProto(join.Node);
        }
        catch (FormatException e)
        {
            Log.Warning($"refused a malformed Join from {Sender.Path.Address}: {e.Message}");
            return;
        }
        string? refusal = null;
        if (!_joined)
            refusal = "this node is not a cluster member yet";
        else if (join.Cluster != Context.System.Name || node.Address.System != Context.System.Name)
            refusal = $"this is cluster '{Context.System.Name}', not '{join.Cluster}'";
        else if (_gossip.Tombstones.ContainsKey(node))
            refusal = $"incarnation {node} was removed from the cluster and can never rejoin; restart it";
        else if (_gossip.Members.Values.FirstOrDefault(m => m.Address.Equals(node.Address) && m.UniqueAddress != node) is { } old
                 && old.Status is not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting))
        {
            if (_gossip.IsReachable(old.UniqueAddress) && !_cluster.SeemsDead(old.UniqueAddress))
                refusal = $"a live member (uid {old.UniqueAddress.Uid}) answers at {node.Address}";
            else
            {
                Log.Info($"new incarnation of {node.Address} is joining; downing the old one (uid {old.UniqueAddress.Uid})");
                Update(_gossip.WithMember(old with { Status = MemberStatus.Down }).Changed(_self));
            }
        }
        if (refusal is not null)
        {
            Log.Warning($"refused join of {node}: {refusal}");
            Sender.Tell(new JoinRefusedData { Reason = refusal }, Self);
            return;
        }
        if (_gossip.Member(node) is null)
        {
            Log.Info($"{node.Address} is joining (uid {node.Uid}, roles [{string.Join(",", join.Roles)}])");
            Update(_gossip.WithMember(new Member(node, MemberStatus.Joining, join.Roles.ToArray(), 0)).Changed(_self));
        }
        Sender.Tell(new WelcomeData { From = GossipCodec.ToProto(_self), Gossip = GossipCodec.ToProto(_gossip) }, Self);
    }

    private void OnWelcome(WelcomeData welcome)
    {
        if (_joined)
            return;
        var gossip = GossipCodec.FromProto(welcome.Gossip);
        if (gossip.Member(_self) is null)
        {
            Log.Warning($"ignoring a Welcome from {Sender.Path.Address} that does not list this node");
            return;
        }
        _joined = true;
        _joinTimer?.Cancel();
        Log.Info($"welcomed into the cluster by {GossipCodec.FromProto(welcome.From).Address}");
        Update(gossip.SeenBy(_self));
    }

    // ---- commands ---------------------------------------------------------------------------

    private void ChangeStatus(Address address, MemberStatus status, string why)
    {
        var member = _gossip.Members.Values.Where(m => m.Address.Equals(address)).OrderByDescending(m => m.UniqueAddress.Uid == _self.Uid).FirstOrDefault();
        if (member is null || !_joined)
        {
            Log.Warning($"cannot mark {address} {status}: not a member");
            return;
        }
        if (MemberStatusOrder.Priority(member.Status) >= MemberStatusOrder.Priority(status))
            return;
        if (status == MemberStatus.Leaving && member.Status is MemberStatus.Joining)
            status = MemberStatus.Down; // a member that never came up cannot leave gracefully
        Log.Info($"marking {member.Address} {status} ({why})");
        Update(_gossip.WithMember(member with { Status = status }).Changed(_self));
        SendGossipTo(member.UniqueAddress);
    }

    private void OnDownMembers(ClusterCommands.DownMembers down)
    {
        var gossip = _gossip;
        foreach (var node in down.Nodes)
        {
            if (gossip.Member(node) is { } m && m.Status is not (MemberStatus.Down or MemberStatus.Removed))
                gossip = gossip.WithMember(m with { Status = MemberStatus.Down });
        }
        if (!ReferenceEquals(gossip, _gossip))
        {
            Log.Warning($"downing [{string.Join(", ", down.Nodes.Select(n => n.Address))}]: {down.Reason}");
            Update(gossip.Changed(_self));
            foreach (var m in gossip.ReachableMembers)
            {
                if (m.UniqueAddress != _self)
                    SendGossipTo(m.UniqueAddress);
            }
        }
    }

    private void UpdateReachability(UniqueAddress node, bool reachable)
    {
        if (!_joined || _gossip.Member(node) is null)
            return;
        var r = reachable ? _gossip.Reachability.Reachable(_self, node) : _gossip.Reachability.Unreachable(_self, node);
        if (ReferenceEquals(r, _gossip.Reachability))
            return;
        Log.Warning($"{node.Address} is {(reachable ? "reachable again" : "unreachable")} from {_self.Address}");
        Update(_gossip.With(reachability: r).Changed(_self));
    }
}
