using System.Collections.Immutable;

namespace Kv.Actors.Security;

/// <summary>One grant: a permission on a namespace, or on every namespace (<see cref="All"/>).</summary>
public sealed record Grant(Permission Permission, string Namespace)
{
    public const string All = "*";

    public override string ToString() => $"{Permission.ToString().ToLowerInvariant()} {Namespace}";
}

/// <summary>
/// A user as the cluster stores it: the salted PBKDF2 hash of the password, the grants, and the
/// version of this record (the time of the change that made it, and the node that made it): of two
/// records of one name the one with the larger (Version, Origin) wins everywhere. A deleted user is
/// kept as a tombstone (no hash, no grants) so that the deletion wins over older copies.
/// </summary>
public sealed record UserRecord(string Name, byte[] Salt, byte[] Hash, int Iterations, IReadOnlyList<Grant> Grants, bool Deleted, long Version, string Origin)
{
    /// <summary>Whether this record wins over <paramref name="other"/> (a record of the same name).</summary>
    public bool Supersedes(UserRecord other) =>
        Version != other.Version ? Version > other.Version : string.CompareOrdinal(Origin, other.Origin) > 0;

    /// <summary>A short fingerprint of the password hash: tokens carry it, so a new password invalidates them.</summary>
    public string Stamp => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Hash.Concat(Salt).ToArray()), 0, 8);
}

/// <summary>The secret that signs login tokens; the oldest one created wins (a node that joins later never replaces it).</summary>
public sealed record ClusterSecret(byte[] Key, long Version, string Origin)
{
    /// <summary>Whether this secret wins over <paramref name="other"/>: the older one.</summary>
    public bool Supersedes(ClusterSecret other) =>
        Version != other.Version ? Version < other.Version : string.CompareOrdinal(Origin, other.Origin) < 0;
}

/// <summary>
/// The replicated user store: a state-based CRDT (a map of last-writer-wins records, plus the token
/// secret). <see cref="Merge"/> is commutative, associative and idempotent, so nodes converge
/// whatever order they see changes in.
/// </summary>
public sealed class UserDirectory
{
    public static readonly UserDirectory Empty = new(ImmutableDictionary<string, UserRecord>.Empty.WithComparers(StringComparer.Ordinal), null);

    public UserDirectory(ImmutableDictionary<string, UserRecord> users, ClusterSecret? secret) => (Users, Secret) = (users, secret);

    /// <summary>Every record, tombstones included.</summary>
    public ImmutableDictionary<string, UserRecord> Users { get; }

    public ClusterSecret? Secret { get; }

    /// <summary>The live (not deleted) user of that name, or null.</summary>
    public UserRecord? Find(string name) => Users.TryGetValue(name, out var r) && !r.Deleted ? r : null;

    /// <summary>The live users, by name.</summary>
    public IEnumerable<UserRecord> Live => Users.Values.Where(u => !u.Deleted).OrderBy(u => u.Name, StringComparer.Ordinal);

    public UserDirectory With(UserRecord record) =>
        Users.TryGetValue(record.Name, out var old) && !record.Supersedes(old) ? this : new(Users.SetItem(record.Name, record), Secret);

    public UserDirectory With(ClusterSecret secret) =>
        Secret is not null && !secret.Supersedes(Secret) ? this : new(Users, secret);

    /// <summary>Both directories joined: per name the winning record, the winning secret.</summary>
    public UserDirectory Merge(UserDirectory other)
    {
        var result = this;
        foreach (var r in other.Users.Values)
            result = result.With(r);
        if (other.Secret is not null)
            result = result.With(other.Secret);
        return result;
    }

    /// <summary>Whether the two hold the same records and secret (by version).</summary>
    public bool SameAs(UserDirectory other) =>
        Users.Count == other.Users.Count
        && Users.All(e => other.Users.TryGetValue(e.Key, out var o) && o.Version == e.Value.Version && o.Origin == e.Value.Origin)
        && (Secret is null ? other.Secret is null : other.Secret is not null && Secret.Version == other.Secret.Version && Secret.Origin == other.Secret.Origin);
}
