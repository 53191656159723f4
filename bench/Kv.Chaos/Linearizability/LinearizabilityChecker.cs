using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kv.Chaos.Linearizability;

/// <summary>
/// A linearizability checker: the Wing-Gong search with Lowe's memoisation (the "wgl" of
/// Knossos and the algorithm of Porcupine). The history is split per key (linearizability is
/// compositional), each key's operations become call and return entries in one list sorted by
/// time (open operations return at infinity), and a depth-first search linearizes, at each step,
/// an operation whose call precedes every pending return, if the model accepts its result; it
/// backtracks when it reaches the return of an operation not yet linearized. A cache of
/// (linearized set, model state) pairs already explored cuts the search; open operations may be
/// linearized anywhere after their call or never (the key is linearizable once every completed
/// operation is). The search stops at a time budget (verdict unknown).
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>Checks <paramref name="ops"/> (every key) against <paramref name="model"/> within <paramref name="budget"/> in all.</summary>
    public static LinearizabilityResult Check<TState>(IEnumerable<LinOp> ops, ISequentialModel<TState> model, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        var keys = new List<KeyVerdict>();
        foreach (var group in ops.GroupBy(o => o.Key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            keys.Add(CheckKey(group.Key, group.ToList(), model, budget - clock.Elapsed));
        return new LinearizabilityResult(model.Name, keys);
    }

    /// <summary>Checks the operations of one key within <paramref name="budget"/>.</summary>
    public static KeyVerdict CheckKey<TState>(string key, IReadOnlyList<LinOp> ops, ISequentialModel<TState> model, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        var search = new Search<TState>(model.Prune(ops), model);
        var verdict = search.Run(clock, budget);
        return new KeyVerdict(key, verdict, search.Count, search.Offending, search.BestPrefix, search.BestState is { } s ? model.Describe(s.Value!) : null, search.Steps, clock.Elapsed);
    }

    /// <summary>The search over one key's operations.</summary>
    private sealed class Search<TState>
    {
        private readonly ISequentialModel<TState> _model;
        private readonly LinOp[] _ops;
        private readonly int _completed;

        // For an open operation, the open operation of its class called just before it (-1: none): linearized only after that one.
        private readonly int[] _after;

        // The entry list: entries 0..2n-1 (call of op i is entry 2i, its return 2i+1), head sentinel 2n.
        private readonly int[] _next;
        private readonly int[] _prev;
        private readonly int _head;

        // The linearized set, and its Zobrist hash (xor of a random word per member).
        private readonly ulong[] _bits;
        private readonly ulong[] _zobrist;
        private ulong _hash;
        private readonly Dictionary<ulong, List<(ulong[] Bits, TState State)>> _cache = [];

        public Search(IReadOnlyList<LinOp> ops, ISequentialModel<TState> model)
        {
            _model = model;
            _ops = [.. ops];
            int n = _ops.Length;
            _completed = _ops.Count(o => !o.IsOpen);
            _after = new int[n];
            var lastOfClass = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (int i in Enumerable.Range(0, n).OrderBy(i => _ops[i].Invoke))
            {
                string? kind = _ops[i].IsOpen ? model.Interchangeable(_ops[i]) : null;
                _after[i] = kind is not null && lastOfClass.TryGetValue(kind, out int before) ? before : -1;
                if (kind is not null)
                    lastOfClass[kind] = i;
            }
            _next = new int[2 * n + 1];
            _prev = new int[2 * n + 1];
            _head = 2 * n;
            _bits = new ulong[(n + 63) / 64];
            _zobrist = new ulong[n];
            var random = new Random(12345);
            for (int i = 0; i < n; i++)
                _zobrist[i] = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 63);

            // Sorted by time; at equal times calls first (operations that touch are concurrent, the lenient reading).
            var order = Enumerable.Range(0, 2 * n)
                .OrderBy(e => Time(e))
                .ThenBy(e => e % 2)
                .ToArray();
            int last = _head;
            foreach (int e in order)
            {
                _next[last] = e;
                _prev[e] = last;
                last = e;
            }
            _next[last] = -1;
        }

        public int Count => _ops.Length;

        public long Steps { get; private set; }

        public LinOp? Offending { get; private set; }

        public IReadOnlyList<LinOp> BestPrefix { get; private set; } = [];

        public StrongBox<TState>? BestState { get; private set; }

        private double Time(int entry) => entry % 2 == 0 ? _ops[entry / 2].Invoke : _ops[entry / 2].Complete ?? double.PositiveInfinity;

        public LinVerdict Run(Stopwatch clock, TimeSpan budget)
        {
            var stack = new Stack<(int Op, TState State)>();
            var state = _model.Initial;
            int linearizedCompleted = 0;
            int bestDepth = -1;
            int entry = _next[_head];
            while (true)
            {
                if (linearizedCompleted == _completed)
                {
                    Offending = null;
                    BestPrefix = [];
                    BestState = null;
                    return LinVerdict.Linearizable;
                }
                if ((++Steps & 0x3ff) == 0 && clock.Elapsed > budget)
                    return LinVerdict.Unknown;
                if (entry >= 0 && entry % 2 == 0)
                {
                    int op = entry / 2;
                    if ((_after[op] < 0 || IsSet(_after[op])) && _model.Step(state, _ops[op], out var next) && Remember(op, next))
                    {
                        stack.Push((op, state));
                        state = next;
                        Set(op);
                        if (!_ops[op].IsOpen)
                            linearizedCompleted++;
                        Lift(op);
                        entry = _next[_head];
                    }
                    else
                    {
                        entry = _next[entry];
                    }
                    continue;
                }

                // The return of an operation not linearized yet (or, defensively, the end): this prefix cannot go on.
                if (stack.Count > bestDepth && entry >= 0)
                {
                    bestDepth = stack.Count;
                    Offending = _ops[entry / 2];
                    BestPrefix = stack.Reverse().Select(s => _ops[s.Op]).ToList();
                    BestState = new StrongBox<TState>(state);
                }
                if (stack.Count == 0)
                    return LinVerdict.NotLinearizable;
                var (undo, before) = stack.Pop();
                state = before;
                Set(undo); // toggles it off
                if (!_ops[undo].IsOpen)
                    linearizedCompleted--;
                Unlift(undo);
                entry = _next[2 * undo];
            }
        }

        private bool IsSet(int op) => (_bits[op >> 6] & (1UL << (op & 63))) != 0;

        /// <summary>Toggles <paramref name="op"/> in the linearized set.</summary>
        private void Set(int op)
        {
            _bits[op >> 6] ^= 1UL << (op & 63);
            _hash ^= _zobrist[op];
        }

        /// <summary>Adds (linearized set + op, state) to the cache: false when it was there (explored already).</summary>
        private bool Remember(int op, TState state)
        {
            ulong hash = (_hash ^ _zobrist[op]) * 0x9E3779B97F4A7C15UL ^ (ulong)EqualityComparer<TState>.Default.GetHashCode(state!);
            _bits[op >> 6] ^= 1UL << (op & 63);
            try
            {
                if (_cache.TryGetValue(hash, out var bucket))
                {
                    foreach (var (bits, s) in bucket)
                    {
                        if (EqualityComparer<TState>.Default.Equals(s, state) && bits.AsSpan().SequenceEqual(_bits))
                            return false;
                    }
                }
                else
                {
                    bucket = [];
                    _cache[hash] = bucket;
                }
                bucket.Add(((ulong[])_bits.Clone(), state));
                return true;
            }
            finally
            {
                _bits[op >> 6] ^= 1UL << (op & 63);
            }
        }

        /// <summary>Takes op's call and return entries out of the list.</summary>
        private void Lift(int op)
        {
            Remove(2 * op);
            Remove(2 * op + 1);
        }

        /// <summary>Puts them back where they were (the reverse order of <see cref="Lift"/>).</summary>
        private void Unlift(int op)
        {
            Restore(2 * op + 1);
            Restore(2 * op);
        }

        private void Remove(int e)
        {
            int p = _prev[e], n = _next[e];
            _next[p] = n;
            if (n >= 0)
                _prev[n] = p;
        }

        private void Restore(int e)
        {
            int p = _prev[e], n = _next[e];
            _next[p] = e;
            if (n >= 0)
                _prev[n] = e;
        }
    }
}
