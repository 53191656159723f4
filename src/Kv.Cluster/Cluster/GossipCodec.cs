using System.Collections.Immutable;
using Kv.Cluster.Actor;
using Kv.Cluster.Cluster.Protos;

namespace Kv.Cluster.Cluster;

/// <summary>Gossip and addresses to and from their protobuf form; anything inconsistent is a FormatException.</summary>
internal static class GossipCodec
{
    public static UniqueAddressData ToProto(UniqueAddress u) => new()
    {
        System = u.Address.System,
        Host = u.Address.Host ?? "",
        Port = (uint)(u.Address.Port ?? 0),
        Uid = u.Uid,
    };

    public static UniqueAddress FromProto(UniqueAddressData? d)
    {
        if (d is null || !ActorPath.IsValidName(d.System) || string.IsNullOrEmpty(d.Host) || d.Port is 0 or > 65535 || d.Uid == 0)
            throw new FormatException("invalid node address in cluster message");
        return new UniqueAddress(new Address(d.System, d.Host, (int)d.Port), d.Uid);
    }

    public static Address FromProto(AddressData? d)
    {
        if (d is null || !ActorPath.IsValidName(d.System) || string.IsNullOrEmpty(d.Host) || d.Port is 0 or > 65535)
            throw new FormatException("invalid address in cluster command");
        return new Address(d.System, d.Host, (int)d.Port);
    }

    public static AddressData ToProto(Address a) => new() { System = a.System, Host = a.Host ?? "", Port = (uint)(a.Port ?? 0) };

    public static IEnumerable<VersionEntry> ToProto(VectorClock v) => v.Versions.Select(kv => new VersionEntry { Node = kv.Key, Version = kv.Value });

    public static VectorClock FromProto(IEnumerable<VersionEntry> entries) => VectorClock.From(entries.Select(e => KeyValuePair.Create(e.Node, e.Version)));

    public static GossipData ToProto(Gossip g)
    {
        var data = new GossipData();
        foreach (var m in g.Members.Values)
        {
            var md = new MemberData { Node = ToProto(m.UniqueAddress), Status = (uint)m.Status, UpNumber = m.UpNumber };
            md.Roles.AddRange(m.Roles);
            data.Members.Add(md);
        }
        foreach (var (observer, record) in g.Reachability.Observers)
        {
            var od = new ObserverRecords { Observer = ToProto(observer), Version = record.Version };
            od.Records.AddRange(record.Unreachable.Select(s => new ReachabilityRecord { Subject = ToProto(s), Status = 1 }));
            data.Reachability.Add(od);
        }
        data.Seen.AddRange(g.Seen.Select(ToProto));
        data.Version.AddRange(ToProto(g.Version));
        data.Tombstones.AddRange(g.Tombstones.Select(t => new Tombstone { Node = ToProto(t.Key), RemovedAtMs = t.Value }));
        return data;
    }

    public static Gossip FromProto(GossipData? data)
    {
        if (data is null)
            throw new FormatException("cluster message without gossip");
        var members = ImmutableSortedDictionary.CreateBuilder<UniqueAddress, Member>();
        foreach (var md in data.Members)
        {
            if (md.Status > (uint)MemberStatus.Removed)
                throw new FormatException($"unknown member status {md.Status}");
            var node = FromProto(md.Node);
            members[node] = new Member(node, (MemberStatus)md.Status, md.Roles.ToArray(), md.UpNumber);
        }
        var reachability = Reachability.From(data.Reachability.Select(o => KeyValuePair.Create(
            FromProto(o.Observer),
            new Reachability.ObserverRecord(o.Version, o.Records.Select(r => FromProto(r.Subject)).ToImmutableSortedSet()))));
        return new Gossip(
            members.ToImmutable(),
            reachability,
            data.Seen.Select(FromProto).ToImmutableHashSet(),
            FromProto(data.Version),
            data.Tombstones.ToImmutableDictionary(t => FromProto(t.Node), t => t.RemovedAtMs));
    }
}
