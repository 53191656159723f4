namespace Kv.Chaos.Linearizability;

/// <summary>
/// A sequential specification: the state of one key and how each operation changes it. The
/// checker searches for an order of the operations, consistent with their real-time order, in
/// which every completed operation's result is what this model gives.
/// </summary>
/// <typeparam name="TState">The state of one key (compared with <see cref="EqualityComparer{T}.Default"/>; must be immutable).</typeparam>
public interface ISequentialModel<TState>
{
    string Name { get; }

    /// <summary>The state before any operation (the key absent).</summary>
    TState Initial { get; }

    /// <summary>
    /// Applies <paramref name="op"/> to <paramref name="state"/>: false when its result (known when
    /// completed) cannot happen in that state; an open operation only has its effect.
    /// </summary>
    bool Step(TState state, LinOp op, out TState next);

    /// <summary>Operations that can be left out of the search without changing the verdict (open ones whose effect nobody could have observed).</summary>
    IReadOnlyList<LinOp> Prune(IReadOnlyList<LinOp> ops);

    /// <summary>
    /// A class for open operations that have the same effect (null: none): the search linearizes
    /// the open operations of one class in the order of their calls only. That loses nothing (any
    /// linearization using some of them can use the earliest-called ones in their places instead)
    /// and turns 2^k subsets of k such operations into k + 1.
    /// </summary>
    string? Interchangeable(LinOp op);

    string Describe(TState state);
}
