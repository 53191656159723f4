using System.Text;
using Kv.Actors.Admin;
using Kv.Actors.Coordinators;
using Kv.Actors.Ring;
using Kv.Actors.Scans;

namespace Kv.Actors.Security;

/// <summary>What a request sent to a node's router, admin or user actor needs.</summary>
public enum RequirementKind
{
    /// <summary>Nothing: the ring (clients route with it), logging in.</summary>
    Open,

    /// <summary>Any authenticated user: cluster status, transfers, hints, anti-entropy.</summary>
    Authenticated,

    /// <summary>A permission on a namespace (read, write), or admin (cluster-wide).</summary>
    Permission,

    /// <summary>Only cluster members send it (replica batches, tombstone reaps, user store gossip); never a client.</summary>
    Internal,
}

/// <summary>A request's requirement: its kind and, for <see cref="RequirementKind.Permission"/>, the permission and namespace (null: cluster-wide).</summary>
public readonly record struct Requirement(RequirementKind Kind, Permission Permission = Permission.Admin, string? Namespace = null)
{
    public static readonly Requirement Open = new(RequirementKind.Open);
    public static readonly Requirement Authenticated = new(RequirementKind.Authenticated);
    public static readonly Requirement Admin = new(RequirementKind.Permission, Permission.Admin);
    public static readonly Requirement Internal = new(RequirementKind.Internal);

    private static Requirement Read(byte[] ns) => new(RequirementKind.Permission, Permission.Read, Encoding.UTF8.GetString(ns));

    private static Requirement Write(byte[] ns) => new(RequirementKind.Permission, Permission.Write, Encoding.UTF8.GetString(ns));

    /// <summary>
    /// The requirement of <paramref name="message"/>. A message not listed here needs admin (closed
    /// by default): a new client request type must be added to this table.
    /// </summary>
    public static Requirement Of(object message) => message switch
    {
        KvGet m => Read(m.Namespace),
        KvExists m => Read(m.Namespace),
        KvGetMany m => Read(m.Namespace),
        KvScan m => Read(m.Namespace),
        KvPut m => Write(m.Namespace),
        KvDelete m => Write(m.Namespace),
        KvUpdate m => Write(m.Namespace),
        KvPutMany m => Write(m.Namespace),
        Consistent.KvCas m => Write(m.Namespace),
        Backup.KvMergeMany m => Write(m.Namespace), // kv restore; kv backup (BackupRead, every namespace) needs admin
        GetRing or Login => Open,
        GetClusterStatus or GetTransfers or Hints.GetClusterHints or Aae.GetClusterAae
            or Metrics.GetClusterMetrics or Metrics.GetMetricsSnapshot => Authenticated,
        UserAdmin { Op: UserAdminOp.SetPassword } => Authenticated, // the user store checks: admin, or the user's own password
        LeaveNode or DownNode or ChaosSetFaults or UserAdmin => Admin,
        ReplicaBatch or ReapTombstone or TombstoneWritten or UserDirectoryGossip or UserDirectoryAck => Internal,
        _ => Admin,
    };

    public override string ToString() => Kind switch
    {
        RequirementKind.Permission when Permission == Permission.Admin => "admin",
        RequirementKind.Permission => $"{Permission.ToString().ToLowerInvariant()} on namespace '{Namespace}'",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}
