using System.Globalization;

namespace Kv.Chaos.Linearizability;

/// <summary>A counter with read and increment (which returns the new value); absent reads as 0.</summary>
public sealed class CounterModel : ISequentialModel<long>
{
    public static readonly CounterModel Instance = new();

    public string Name => "counter";

    public long Initial => 0;

    public bool Step(long state, LinOp op, out long next)
    {
        next = state;
        switch (op.Kind)
        {
            case LinKind.Read:
                return op.IsOpen || op.Number == state;
            case LinKind.Increment:
                next = unchecked(state + op.Amount);
                return op.IsOpen || op.Number == next;
            default:
                return false; // not a counter operation
        }
    }

    /// <summary>Leaves out open reads only (every increment changes what later reads see).</summary>
    public IReadOnlyList<LinOp> Prune(IReadOnlyList<LinOp> ops) => ops.Where(op => !(op.IsOpen && op.Kind == LinKind.Read)).ToList();

    /// <summary>Open increments by the same amount are alike.</summary>
    public string? Interchangeable(LinOp op) => op.IsOpen && op.Kind == LinKind.Increment ? op.Amount.ToString(CultureInfo.InvariantCulture) : null;

    public string Describe(long state) => state.ToString(CultureInfo.InvariantCulture);
}
