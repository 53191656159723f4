using Kv.Actors.Coordinators;
using Kv.Actors.Objects;

namespace Kv.Actors.Backup;

/// <summary>
/// Read a page of a partition's backup: to a node's router (which hands it to its vnode of
/// <see cref="Partition"/>), or to the vnode. Without <see cref="Cursor"/> the vnode takes a
/// snapshot of its engine and starts a cursor over it; with one it continues that cursor (the same
/// snapshot: every page of a partition is one consistent view). The objects are those whose own
/// partition, on a ring of <see cref="RingSize"/>, is <see cref="Partition"/>, stored bytes as they
/// are (all siblings, the causal context, tombstones too), at most <see cref="MaxKeys"/> of them and
/// about <see cref="MaxBytes"/> bytes. <see cref="Stop"/>: end the cursor. Answer: <see cref="BackupChunk"/>.
/// </summary>
public sealed record BackupRead(int Partition, int RingSize, string? Cursor, int MaxKeys, int MaxBytes, bool Stop = false);

/// <summary>One object of a <see cref="BackupChunk"/>.</summary>
public sealed record BackupEntry(byte[] Namespace, byte[] Key, byte[] Object);

/// <summary>
/// A page of a partition's backup, in storage-key order. <see cref="Cursor"/> names the cursor to
/// continue; <see cref="Done"/>: the partition is complete; <see cref="Error"/>: the read failed (or
/// the vnode cannot serve it: handed off, still filling, another ring size, cursor gone).
/// </summary>
public sealed record BackupChunk(int Partition, string Cursor, IReadOnlyList<BackupEntry> Items, bool Done, string? Error);

/// <summary>
/// Restore: merge these objects (stored encodings from a backup) into the store, each into its
/// key's replicas exactly as read repair and handoff do (DVV sync): whatever a replica holds that
/// the object does not cover (newer writes, siblings) stays. One outcome per item, in order
/// (<see cref="KvManyReply"/>): <see cref="PutSucceeded"/> after W replicas (DW durably) merged it.
/// </summary>
public sealed record KvMergeMany(byte[] Namespace, IReadOnlyList<KvMergeItem> Items, RequestOptions Options);

/// <summary>One object of a <see cref="KvMergeMany"/>.</summary>
public sealed record KvMergeItem(byte[] Key, DvvSet<Sibling> Object);

/// <summary>Bounds of backup pages and restore batches.</summary>
public static class BackupLimits
{
    /// <summary>Keys per backup page at most.</summary>
    public const int MaxPageKeys = 4096;

    /// <summary>Bytes per backup page (about: it ends after the object that passes it); within the 4 MiB frame.</summary>
    public const int MaxPageBytes = 2 * 1024 * 1024;

    /// <summary>Keys a cursor reads for one page at most (the keys of other partitions are skipped).</summary>
    public const int ExaminePerPage = 16_384;

    /// <summary>A cursor not asked for its next page this long ends, releasing its snapshot.</summary>
    public static readonly TimeSpan CursorIdle = TimeSpan.FromSeconds(60);

    /// <summary>Error text of a vnode that cannot serve a backup read now (the reader may try again later).</summary>
    public const string Unsynced = "unsynced";
}
