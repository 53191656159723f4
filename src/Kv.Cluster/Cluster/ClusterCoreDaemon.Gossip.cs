using Kv.Cluster.Actor;
using Kv.Cluster.Cluster.Protos;
using Kv.Cluster.Event;

namespace Kv.Cluster.Cluster;

/// <summary>Gossip exchange, leader actions and event publication.</summary>
internal sealed partial class ClusterCoreDaemon
{
    private void GossipTick()
    {
        if (!_joined)
            return;
        var peers = _gossip.Members.Values
            .Where(m => m.UniqueAddress != _self && m.Status != MemberStatus.Removed && _gossip.Reachability.IsReachable(_self, m.UniqueAddress))
            .ToList();
        if (peers.Count == 0)
            return;
        var notSeen = peers.Where(m => !_gossip.Seen.Contains(m.UniqueAddress)).ToList();
        // Akka: prefer a peer that has not seen this version (probability 0.8).
        var pool = notSeen.Count > 0 && Random.Shared.NextDouble() < 0.8 ? notSeen : peers;
        var peer = pool[Random.Shared.Next(pool.Count)].UniqueAddress;
        if (_gossip.Seen.Contains(peer))
            SendStatusTo(peer);
        else
            SendGossipTo(peer);
        // Gossip faster while fewer than half have seen the current version.
        if (notSeen.Count * 2 > peers.Count && peers.Count > 1)
        {
            var second = peers[Random.Shared.Next(peers.Count)].UniqueAddress;
            if (second != peer)
                SendGossipTo(second);
        }
    }

    private void SendGossipTo(UniqueAddress node)
    {
        var envelope = new GossipEnvelopeData { From = GossipCodec.ToProto(_self), To = GossipCodec.ToProto(node), Gossip = GossipCodec.ToProto(_gossip) };
        CoreAt(node.Address).Tell(envelope, Self);
    }

    private void SendStatusTo(UniqueAddress node)
    {
        var status = new GossipStatusData { From = GossipCodec.ToProto(_self) };
        status.Version.AddRange(GossipCodec.ToProto(_gossip.Version));
        status.Seen.AddRange(_gossip.Seen.Select(GossipCodec.ToProto));
        CoreAt(node.Address).Tell(status, Self);
    }

    private bool AcceptFrom(UniqueAddress from, string what)
    {
        if (!_joined)
            return false;
        if (from.Address.System != Context.System.Name)
        {
            Log.Warning($"ignoring {what} from {from}: it belongs to cluster '{from.Address.System}'");
            return false;
        }
        if (_gossip.Tombstones.ContainsKey(from))
        {
            Log.Debug($"ignoring {what} from removed incarnation {from}");
            return false;
        }
        return true;
    }

    private void OnGossipStatus(GossipStatusData status)
    {
        UniqueAddress from;
        VectorClock version;
        try
        {
            from = GossipCodec.FromProto(status.From);
            version = GossipCodec.FromProto(status.Version);
        }
        catch (FormatException e)
        {
            Log.Warning($"ignoring malformed gossip status from {Sender.Path.Address}: {e.Message}");
            return;
        }
        if (!AcceptFrom(from, "gossip status") || _gossip.Member(from) is null)
            return;
        switch (_gossip.Version.CompareTo(version))
        {
            case VectorClockOrdering.Same:
                var seen = _gossip.Seen;
                foreach (var s in status.Seen)
                    seen = seen.Add(GossipCodec.FromProto(s));
                if (seen.Count != _gossip.Seen.Count)
                    Update(_gossip.With(seen: seen));
                break;
            case VectorClockOrdering.Before:
                SendStatusTo(from); // theirs is newer: our status makes them send it
                break;
            default:
                SendGossipTo(from);
                break;
        }
    }

    private void OnGossip(GossipEnvelopeData envelope)
    {
        UniqueAddress from, to;
        Gossip remote;
        try
        {
            from = GossipCodec.FromProto(envelope.From);
            to = GossipCodec.FromProto(envelope.To);
            remote = GossipCodec.FromProto(envelope.Gossip);
        }
        catch (FormatException e)
        {
            Log.Warning($"ignoring malformed gossip from {Sender.Path.Address}: {e.Message}");
            return;
        }
        if (to != _self)
        {
            Log.Debug($"ignoring gossip from {from} meant for {to}");
            return;
        }
        if (!AcceptFrom(from, "gossip"))
            return;
        if (remote.Member(from) is null && !remote.Tombstones.ContainsKey(_self))
        {
            Log.Warning($"ignoring gossip from {from}: the sender is not in it");
            return;
        }
        if (remote.Tombstones.ContainsKey(_self) || (remote.Member(_self) is null && _gossip.Member(_self) is { Status: MemberStatus.Exiting or MemberStatus.Down or MemberStatus.Leaving }))
        {
            Log.Info($"{from.Address} reports this node removed from the cluster");
            Update(_gossip.Remove(_self, NowMs));
            return;
        }
        Gossip next;
        switch (_gossip.Version.CompareTo(remote.Version))
        {
            case VectorClockOrdering.Same:
                next = _gossip.With(seen: _gossip.Seen.Union(remote.Seen)).SeenBy(_self);
                break;
            case VectorClockOrdering.Before:
                next = remote.SeenBy(_self);
                break;
            case VectorClockOrdering.After:
                SendGossipTo(from); // theirs is older
                return;
            default:
                next = _gossip.Merge(remote).SeenBy(_self);
                break;
        }
        if (next.Member(_self) is null && _gossip.Member(_self) is not null)
        {
            // A merge must never drop this node silently; it happens only through a tombstone (above).
            next = next.WithMember(_gossip.Member(_self)!);
        }
        Update(next);
        // Tell the sender at once that we have seen its news (a status is small): the leader
        // reaches convergence in one round trip instead of waiting for random gossip rounds.
        if (_gossip.Member(from) is not null)
            SendStatusTo(from);
    }

    // ---- leader -----------------------------------------------------------------------------

    private void LeaderActions()
    {
        if (!_joined || _shuttingDown || _gossip.Leader() != _self)
            return;
        if (!_gossip.Convergence(_self))
        {
            if (_options.AllowWeaklyUpMembers && ++_notConvergedTicks >= 3)
            {
                var gossip = _gossip;
                foreach (var m in _gossip.Members.Values)
                {
                    if (m.Status == MemberStatus.Joining && _gossip.IsReachable(m.UniqueAddress))
                        gossip = gossip.WithMember(m with { Status = MemberStatus.WeaklyUp });
                }
                if (!ReferenceEquals(gossip, _gossip))
                {
                    Log.Info("convergence is blocked: moving reachable joining members to WeaklyUp");
                    Update(gossip.Changed(_self));
                }
            }
            return;
        }
        _notConvergedTicks = 0;
        var next = _gossip;
        var removed = new List<Member>();
        int upNumber = Math.Max(_upNumberHint, _gossip.Members.Values.Select(m => m.UpNumber).DefaultIfEmpty(0).Max());
        foreach (var m in _gossip.Members.Values)
        {
            switch (m.Status)
            {
                case MemberStatus.Joining or MemberStatus.WeaklyUp:
                    next = next.WithMember(m with { Status = MemberStatus.Up, UpNumber = m.UpNumber == 0 ? ++upNumber : m.UpNumber });
                    break;
                case MemberStatus.Leaving:
                    next = next.WithMember(m with { Status = MemberStatus.Exiting });
                    break;
                case MemberStatus.Exiting or MemberStatus.Down when m.UniqueAddress != _self:
                    removed.Add(m);
                    next = next.Remove(m.UniqueAddress, NowMs);
                    break;
            }
        }
        _upNumberHint = upNumber;
        if (ReferenceEquals(next, _gossip))
            return;
        next = next.PruneTombstones(NowMs, (long)_options.PruneGossipTombstonesAfter.TotalMilliseconds);
        Update(next.Changed(_self));
        foreach (var m in _gossip.ReachableMembers)
        {
            if (m.UniqueAddress != _self)
                SendGossipTo(m.UniqueAddress); // leader decisions spread in one hop
        }
        foreach (var m in removed)
        {
            Log.Info($"leader removed {m.Address} (uid {m.UniqueAddress.Uid}, was {m.Status})");
            // Tell the removed node (if it still listens) and make sure it never comes back with that uid.
            var envelope = new GossipEnvelopeData { From = GossipCodec.ToProto(_self), To = GossipCodec.ToProto(m.UniqueAddress), Gossip = GossipCodec.ToProto(_gossip) };
            CoreAt(m.Address).Tell(envelope, Self);
            Context.System.Transport?.Quarantine(m.Address, m.UniqueAddress.Uid, "removed from the cluster");
        }
    }

    // ---- state, events ----------------------------------------------------------------------

    private void Update(Gossip next)
    {
        var previous = _gossip;
        _gossip = next;
        // Removed members are quarantined everywhere, not only by the leader.
        foreach (var t in next.Tombstones.Keys)
        {
            if (!previous.Tombstones.ContainsKey(t) && t != _self)
                Context.System.Transport?.Quarantine(t.Address, t.Uid, "removed from the cluster");
        }
        var state = ToState(next);
        _cluster.SetState(state, next.Member(_self));
        foreach (var e in Diff(previous, next))
            Context.System.EventStream.Publish(e);
        _heartbeatSender.Tell(new ClusterCommands.MonitoredMembers(
            next.Members.Values.Where(m => m.Status != MemberStatus.Removed).Select(m => m.UniqueAddress).ToList()), Self);
        _resolver.Tell(new ClusterCommands.GossipUpdated(next), Self);
        CheckSelf(previous, next);
    }

    private bool _exitScheduled;

    private void CheckSelf(Gossip previous, Gossip next)
    {
        if (_shuttingDown || !_joined)
            return;
        var me = next.Member(_self);
        bool removed = next.Tombstones.ContainsKey(_self);
        if (me is { Status: MemberStatus.Exiting } && !removed)
        {
            // Stay until the leader removes us (or a short margin passes), so the removal is seen.
            if (!_exitScheduled)
            {
                _exitScheduled = true;
                Context.System.Scheduler.ScheduleTellOnce(_options.GossipInterval * 4, Self, ClusterCommands.ShutdownSelf.Instance, null);
            }
            return;
        }
        if (me is { Status: MemberStatus.Down } || removed)
        {
            _shuttingDown = true;
            Log.Warning(removed ? "this node was removed from the cluster: shutting down" : "this node was downed: shutting down");
            // Keep gossiping for a moment so the rest of this side learns the decision too.
            Context.System.Scheduler.ScheduleTellOnce(_options.GossipInterval * 2, Self, ClusterCommands.ShutdownSelf.Instance, null);
        }
    }

    private static CurrentClusterState ToState(Gossip g)
    {
        var leader = g.Leader();
        return new CurrentClusterState(
            g.Members.Values.OrderBy(m => m.Address).ToList(),
            g.Members.Values.Where(m => !g.IsReachable(m.UniqueAddress)).ToList(),
            g.Seen.Select(s => s.Address).ToList(),
            leader?.Address,
            leader is { } l && g.Convergence(l));
    }

    private static IEnumerable<ClusterDomainEvent> Diff(Gossip previous, Gossip next)
    {
        foreach (var m in next.Members.Values)
        {
            var old = previous.Member(m.UniqueAddress);
            if (old is null || old.Status != m.Status)
            {
                ClusterDomainEvent? e = m.Status switch
                {
                    MemberStatus.Joining => new MemberJoined(m),
                    MemberStatus.WeaklyUp => new MemberWeaklyUp(m),
                    MemberStatus.Up => new MemberUp(m),
                    MemberStatus.Leaving => new MemberLeft(m),
                    MemberStatus.Exiting => new MemberExited(m),
                    MemberStatus.Down => new MemberDowned(m),
                    _ => null,
                };
                if (e is not null)
                    yield return e;
            }
            bool wasReachable = old is null || previous.IsReachable(m.UniqueAddress);
            bool isReachable = next.IsReachable(m.UniqueAddress);
            if (wasReachable && !isReachable)
                yield return new UnreachableMember(m);
            else if (!wasReachable && isReachable && old is not null)
                yield return new ReachableMember(m);
        }
        foreach (var old in previous.Members.Values)
        {
            if (next.Member(old.UniqueAddress) is null)
                yield return new MemberRemoved(old with { Status = MemberStatus.Removed }, old.Status);
        }
        var oldLeader = previous.Leader()?.Address;
        var newLeader = next.Leader()?.Address;
        if (!Equals(oldLeader, newLeader))
            yield return new LeaderChanged(newLeader);
    }

    private void OnSubscribe(ClusterCommands.Subscribe s)
    {
        if (s.InitialStateAsEvents)
        {
            foreach (var e in Diff(Gossip.Empty, _gossip))
            {
                if (s.To.Any(t => t.IsInstanceOfType(e)))
                    s.Subscriber.Tell(e, Self);
            }
        }
        else
        {
            s.Subscriber.Tell(ToState(_gossip), Self);
        }
        foreach (var t in s.To)
            Context.System.EventStream.Subscribe(s.Subscriber, t);
    }
}
