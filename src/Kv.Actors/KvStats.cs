namespace Kv.Actors;

/// <summary>Counters of one node's store (read by `kv` status commands and tests).</summary>
public sealed class KvStats
{
    private long _puts;
    private long _gets;
    private long _deletes;
    private long _forwarded;
    private long _readRepairs;
    private long _reaped;
    private long _failed;
    private long _corruptReads;
    private long _tablesRepaired;

    public long Puts => Interlocked.Read(ref _puts);
    public long Gets => Interlocked.Read(ref _gets);
    public long Deletes => Interlocked.Read(ref _deletes);

    /// <summary>Writes sent on to a node in the key's preference list.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Replicas brought up to date by reads.</summary>
    public long ReadRepairs => Interlocked.Read(ref _readRepairs);

    /// <summary>Deleted keys whose tombstones were reaped.</summary>
    public long TombstonesReaped => Interlocked.Read(ref _reaped);

    /// <summary>Requests refused before they ran (bad arguments, no ring, too few primaries).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Reads of a vnode that hit a damaged block (answered with an error, never with data).</summary>
    public long CorruptReads => Interlocked.Read(ref _corruptReads);

    /// <summary>Damaged tables rewritten from their readable blocks (the rest refilled from other replicas).</summary>
    public long TablesRepaired => Interlocked.Read(ref _tablesRepaired);

    internal void Put() => Interlocked.Increment(ref _puts);
    internal void Get() => Interlocked.Increment(ref _gets);
    internal void Delete() => Interlocked.Increment(ref _deletes);
    internal void Forward() => Interlocked.Increment(ref _forwarded);
    internal void ReadRepair(int replicas) => Interlocked.Add(ref _readRepairs, replicas);
    internal void Reaped() => Interlocked.Increment(ref _reaped);
    internal void Fail() => Interlocked.Increment(ref _failed);
    internal void CorruptRead() => Interlocked.Increment(ref _corruptReads);
    internal void TableRepaired() => Interlocked.Increment(ref _tablesRepaired);
}
