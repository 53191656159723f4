using System.Collections.Immutable;

namespace Kv.Cluster.Cluster;

/// <summary>
/// Who sees whom as unreachable: per observer, a version and the subjects it cannot reach. A node
/// is reachable again only when every observer that flagged it has cleared the flag. Merges per
/// observer by the higher version, so concurrent gossips combine without losing observations.
/// </summary>
public sealed class Reachability
{
    public static readonly Reachability Empty = new(ImmutableSortedDictionary<UniqueAddress, ObserverRecord>.Empty);

    public sealed record ObserverRecord(long Version, ImmutableSortedSet<UniqueAddress> Unreachable);

    private Reachability(ImmutableSortedDictionary<UniqueAddress, ObserverRecord> observers) => Observers = observers;

    public ImmutableSortedDictionary<UniqueAddress, ObserverRecord> Observers { get; }

    public static Reachability From(IEnumerable<KeyValuePair<UniqueAddress, ObserverRecord>> records) =>
        new(ImmutableSortedDictionary.CreateRange(records));

    public Reachability Unreachable(UniqueAddress observer, UniqueAddress subject) => Change(observer, subject, unreachable: true);

    public Reachability Reachable(UniqueAddress observer, UniqueAddress subject) => Change(observer, subject, unreachable: false);

    private Reachability Change(UniqueAddress observer, UniqueAddress subject, bool unreachable)
    {
        var record = Observers.TryGetValue(observer, out var r) ? r : new ObserverRecord(0, ImmutableSortedSet<UniqueAddress>.Empty);
        if (record.Unreachable.Contains(subject) == unreachable)
            return this;
        var set = unreachable ? record.Unreachable.Add(subject) : record.Unreachable.Remove(subject);
        return new Reachability(Observers.SetItem(observer, new ObserverRecord(record.Version + 1, set)));
    }

    /// <summary>True unless some (still relevant) observer flagged the subject.</summary>
    public bool IsReachable(UniqueAddress subject)
    {
        foreach (var (_, record) in Observers)
        {
            if (record.Unreachable.Contains(subject))
                return false;
        }
        return true;
    }

    /// <summary>True unless <paramref name="observer"/> flagged the subject.</summary>
    public bool IsReachable(UniqueAddress observer, UniqueAddress subject) =>
        !Observers.TryGetValue(observer, out var r) || !r.Unreachable.Contains(subject);

    /// <summary>All flagged subjects.</summary>
    public ImmutableSortedSet<UniqueAddress> AllUnreachable =>
        Observers.Values.SelectMany(r => r.Unreachable).ToImmutableSortedSet();

    public Reachability Merge(Reachability other)
    {
        var result = Observers;
        foreach (var (observer, theirs) in other.Observers)
        {
            if (!result.TryGetValue(observer, out var mine) || theirs.Version > mine.Version)
                result = result.SetItem(observer, theirs);
        }
        return new Reachability(result);
    }

    /// <summary>Forgets observations by and about nodes no longer in the cluster.</summary>
    public Reachability Remove(IEnumerable<UniqueAddress> nodes)
    {
        var gone = nodes.ToHashSet();
        if (gone.Count == 0)
            return this;
        var result = ImmutableSortedDictionary.CreateBuilder<UniqueAddress, ObserverRecord>();
        foreach (var (observer, record) in Observers)
        {
            if (gone.Contains(observer))
                continue;
            var kept = record.Unreachable.Except(gone);
            result[observer] = kept.Count == record.Unreachable.Count ? record : record with { Unreachable = kept };
        }
        return new Reachability(result.ToImmutable());
    }
}
