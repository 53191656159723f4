namespace Kv.Storage.Table;

/// <summary>
/// A byte-bounded LRU cache of verified data blocks, sharded to cut lock contention, shared by every
/// engine of a <see cref="StorageEnvironment"/>. Keys are (table cache id, block offset).
/// </summary>
public sealed class BlockCache
{
    private const int ShardCount = 16;
    private const int EntryOverhead = 96;
    private readonly Shard[] _shards = new Shard[ShardCount];
    private long _hits;
    private long _misses;
    private long _nextId;

    public BlockCache(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        Capacity = capacityBytes;
        for (int i = 0; i < ShardCount; i++)
        {
            _shards[i] = new Shard(capacityBytes / ShardCount);
        }
    }

    public long Capacity { get; }

    /// <summary>Bytes charged to the cache now (block sizes plus per-entry overhead).</summary>
    public long Usage
    {
        get
        {
            long total = 0;
            foreach (Shard s in _shards)
            {
                total += Volatile.Read(ref s.Usage);
            }
            return total;
        }
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>A process-unique id for one open table, so blocks of different files never collide.</summary>
    internal long NewId() => Interlocked.Increment(ref _nextId);

    internal Block? Lookup(long id, long offset)
    {
        Block? b = ShardFor(id, offset).Lookup(new CacheKey(id, offset));
        if (b is null)
        {
            Interlocked.Increment(ref _misses);
        }
        else
        {
            Interlocked.Increment(ref _hits);
        }
        return b;
    }

    internal void Insert(long id, long offset, Block block) =>
        ShardFor(id, offset).Insert(new CacheKey(id, offset), block, block.Data.Length + EntryOverhead);

    /// <summary>Drops every block of one table (when the table is closed).</summary>
    internal void EraseTable(long id)
    {
        foreach (Shard s in _shards)
        {
            s.EraseWhere(id);
        }
    }

    private Shard ShardFor(long id, long offset) => _shards[(int)((ulong)HashCode.Combine(id, offset) % ShardCount)];

    private readonly record struct CacheKey(long Id, long Offset);

    private sealed class Shard(long capacity)
    {
        private readonly Dictionary<CacheKey, LinkedListNode<(CacheKey Key, Block Block, long Charge)>> _map = [];
        private readonly LinkedList<(CacheKey Key, Block Block, long Charge)> _lru = new();
        public long Usage;

        public Block? Lookup(CacheKey key)
        {
            lock (_map)
            {
                if (!_map.TryGetValue(key, out var node))
                {
                    return null;
                }
                _lru.Remove(node);
                _lru.AddFirst(node);
                return node.Value.Block;
            }
        }

        public void Insert(CacheKey key, Block block, long charge)
        {
            if (charge > capacity)
            {
                return;
            }
            lock (_map)
            {
                if (_map.TryGetValue(key, out var existing))
                {
                    _lru.Remove(existing);
                    _map.Remove(key);
                    Usage -= existing.Value.Charge;
                }
                var node = _lru.AddFirst((key, block, charge));
                _map[key] = node;
                Usage += charge;
                while (Usage > capacity && _lru.Last is { } last)
                {
                    _lru.RemoveLast();
                    _map.Remove(last.Value.Key);
                    Usage -= last.Value.Charge;
                }
            }
        }

        public void EraseWhere(long id)
        {
            lock (_map)
            {
                var node = _lru.First;
                while (node is not null)
                {
                    var next = node.Next;
                    if (node.Value.Key.Id == id)
                    {
                        _lru.Remove(node);
                        _map.Remove(node.Value.Key);
                        Usage -= node.Value.Charge;
                    }
                    node = next;
                }
            }
        }
    }
}
