using System.Buffers.Binary;
using System.Collections.Immutable;
using Kv.Actors.Objects;

namespace Kv.Actors.Vnode;

/// <summary>
/// The vnode's own records, kept in its engine beside the data in a key space no data key can
/// reach (a data key starts with its namespace length, at most 255, so its first byte is 0; these
/// start with 0xFF, after every data key). The tombstone index is never handed off; reaped clocks
/// go with the partition's data (an ownership handoff or a fill), so the receiver drops what they
/// cover too.
/// <list type="bullet">
/// <item>Reaped clocks (0xFF 0x01 + data key): the causal context of a tombstone this vnode reaped,
/// with the time, kept for a retention period. An object arriving later (read repair, apply,
/// handoff from a node that was away) loses every value that context covers, so what the delete
/// removed cannot come back, and what is left (writes the delete did not see) is kept.</item>
/// <item>Tombstones (0xFF 0x02 + data key): the keys whose stored object is tombstones only (or
/// tombstones and values that all expire: TTL), with when it became reapable (when it was written;
/// for expiring values, the last expiry plus the clock-skew tolerance), so that a periodic sweep asks
/// for them to be reaped, once the grace has passed since then, until they are, also after a
/// restart or a reap that did not happen.</item>
/// <item>Paxos acceptor state (0xFF 0x03 + data key): for a key of a consistent namespace, the ballot
/// promised, the value accepted and the value last committed (VnodeActor.Paxos.cs). Goes with the
/// partition's data (handoff, fill); the receiver keeps the newer of each part.</item>
/// </list>
/// </summary>
internal static class VnodeMetaKeys
{
    private const byte Meta = 0xFF;
    private const byte ReapedSpace = 0x01;
    private const byte TombstoneSpace = 0x02;
    private const byte PaxosSpace = 0x03;

    public static readonly byte[] ReapedPrefix = [Meta, ReapedSpace];
    public static readonly byte[] TombstonePrefix = [Meta, TombstoneSpace];

    /// <summary>Whether an engine key is one of these records, not data.</summary>
    public static bool IsMeta(ReadOnlySpan<byte> key) => key.Length > 0 && key[0] == Meta;

    public static byte[] Reaped(byte[] storageKey) => [Meta, ReapedSpace, .. storageKey];

    /// <summary>Whether an engine key is a reaped-clock record.</summary>
    public static bool IsReaped(ReadOnlySpan<byte> key) => key.StartsWith(ReapedPrefix);

    /// <summary>
    /// The reaped-clock record that covers what both records cover (the clocks' sync: the higher
    /// counter per actor), stamped with the later time.
    /// </summary>
    public static byte[] MergeReaped(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) =>
        ReapedRecord(DvvSet<Sibling>.Sync(ReapedClock(a), ReapedClock(b)), Math.Max(StampOf(a) ?? 0, StampOf(b) ?? 0));

    public static byte[] Tombstone(byte[] storageKey) => [Meta, TombstoneSpace, .. storageKey];

    /// <summary>A key's Paxos acceptor state (consistent namespaces, VnodeActor.Paxos.cs): handed off with the data.</summary>
    public static byte[] Paxos(byte[] storageKey) => [Meta, PaxosSpace, .. storageKey];

    public static readonly byte[] PaxosPrefix = [Meta, PaxosSpace];

    /// <summary>Whether an engine key is a Paxos acceptor state record.</summary>
    public static bool IsPaxos(ReadOnlySpan<byte> key) => key.StartsWith(PaxosPrefix);

    /// <summary>The data key of a record key.</summary>
    public static byte[] DataKey(byte[] metaKey) => metaKey[2..];

    /// <summary>Whether every value of <paramref name="obj"/> is a tombstone (and it has one).</summary>
    public static bool AllTombstones(DvvSet<Sibling> obj)
    {
        bool any = false;
        foreach (var v in obj.Anonymous)
        {
            if (!v.Deleted)
                return false;
            any = true;
        }
        foreach (var e in obj.Entries)
        {
            foreach (var v in e.Values)
            {
                if (!v.Deleted)
                    return false;
                any = true;
            }
        }
        return any;
    }

    /// <summary>A record's time (unix ms).</summary>
    public static byte[] Stamp(long unixMs)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(b, unixMs);
        return b;
    }

    /// <summary>The time a record was written, or null if it is malformed.</summary>
    public static long? StampOf(ReadOnlySpan<byte> value) => value.Length >= 8 ? BinaryPrimitives.ReadInt64BigEndian(value) : null;

    /// <summary>A reaped-clock record: the time, then the tombstone's entries without values (as the object codec stores them).</summary>
    public static byte[] ReapedRecord(DvvSet<Sibling> tombstone, long unixMs)
    {
        var clock = new DvvSet<Sibling>(tombstone.Entries.Select(e => e with { Values = [] }).ToImmutableArray(), []);
        return [.. Stamp(unixMs), .. KvObjectCodec.Encode(clock)];
    }

    /// <summary>The clock of a reaped-clock record (entries with no values).</summary>
    public static DvvSet<Sibling> ReapedClock(ReadOnlySpan<byte> record) =>
        record.Length >= 8 ? KvObjectCodec.Decode(record[8..]) : throw new FormatException("a reaped-clock record is shorter than its stamp");

    /// <summary>
    /// <paramref name="incoming"/> without the values the reaped <paramref name="clock"/> covers (DVV
    /// sync with a set that has the clock's counters and no values drops exactly those), or null when
    /// nothing is left.
    /// </summary>
    public static DvvSet<Sibling>? WithoutReaped(DvvSet<Sibling> incoming, DvvSet<Sibling> clock)
    {
        var left = DvvSet<Sibling>.Sync(clock, incoming);
        return left.Size == 0 ? null : left;
    }
}
