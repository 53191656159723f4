using Kv.Actors.Coordinators;
using Kv.Actors.Objects;

namespace Kv.Actors.Scans;

/// <summary>
/// A client's scan of one namespace (at a node's router): the keys in <see cref="Range"/> after the
/// continuation token <see cref="After"/> (null: from the start), at most <see cref="Limit"/> of them,
/// in key order. Options: R (null: one replica per partition; set: a quorum read of each key
/// returned) and Timeout.
/// </summary>
public sealed record KvScan(byte[] Namespace, ScanRange Range, int Limit, string? After, RequestOptions Options);

/// <summary>One key of a scan's page: its object (tombstones and expired values included, for the context; see <see cref="ScanLiveness"/>).</summary>
public sealed record ScanItem(byte[] Key, DvvSet<Sibling> Object);

/// <summary>A page of a scan: keys in order, and the token of the next page (null: the range is done).</summary>
public sealed record ScanPage(IReadOnlyList<ScanItem> Items, string? NextToken);

/// <summary>
/// Coordinator to vnode: stream the keys of these partitions (a key's own partition on a ring of
/// <see cref="RingSize"/>) within the storage-key bounds [Lower, Upper), in key order, in chunks of
/// at most <see cref="ChunkKeys"/> keys and about <see cref="ChunkBytes"/> bytes. The vnode answers
/// with a <see cref="VnodeScanChunk"/> from a cursor of its own (a child reading a snapshot), which
/// sends the next chunk only when asked (<see cref="VnodeScanNext"/>).
/// </summary>
public sealed record VnodeScan(long ScanId, byte[] Namespace, IReadOnlyList<int> Partitions, int RingSize, byte[] Lower, byte[] Upper, int ChunkKeys, int ChunkBytes);

/// <summary>One stored key and its object's stored bytes.</summary>
public sealed record ScanEntry(byte[] Key, byte[] Object);

/// <summary>
/// A chunk of a vnode's scan stream (in key order). <see cref="Done"/>: nothing follows.
/// <see cref="Unsynced"/>: the vnode is still filling a partition it took over without data, so it
/// cannot answer for its keys (the coordinator asks another replica). <see cref="Error"/>: it failed.
/// </summary>
public sealed record VnodeScanChunk(long ScanId, int Partition, IReadOnlyList<ScanEntry> Items, bool Done, bool Unsynced, string? Error);

/// <summary>Coordinator to a vnode's scan cursor: send the next chunk, or (Stop) end the stream.</summary>
public sealed record VnodeScanNext(long ScanId, bool Stop);

/// <summary>The bounds of a scan, in key space.</summary>
public static class ScanLimits
{
    /// <summary>The largest page a scan returns.</summary>
    public const int MaxLimit = 10_000;

    /// <summary>The page size when none is given.</summary>
    public const int DefaultLimit = 1_000;

    /// <summary>Keys per chunk a vnode sends at most.</summary>
    public const int ChunkKeys = 256;

    /// <summary>Bytes per chunk a vnode sends (about: a chunk ends after the object that passes it).</summary>
    public const int ChunkBytes = 512 * 1024;

    /// <summary>Keys a cursor reads for one chunk at most (keys of other partitions are skipped): keeps each step short.</summary>
    public const int ExaminePerChunk = 8_192;

    /// <summary>A page ends once its objects pass this many bytes (it fits the 4 MiB frame of the nodes and the clients).</summary>
    public const int PageBytes = 2 * 1024 * 1024;

    /// <summary>A whole page (with its retries) when the request sets no timeout.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A vnode that sends no chunk this long after being asked: the page is planned again without it.</summary>
    public static readonly TimeSpan ChunkTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A cursor not asked for its next chunk this long ends (its coordinator is gone).</summary>
    public static readonly TimeSpan CursorIdle = TimeSpan.FromSeconds(30);

    /// <summary>Plans of one page at most (the first, and again after a vnode failed, moved or was unsynced).</summary>
    public const int MaxAttempts = 4;

    /// <summary>Quorum reads (--r) of one page's keys in flight at once.</summary>
    public const int QuorumReadsInFlight = 32;
}
