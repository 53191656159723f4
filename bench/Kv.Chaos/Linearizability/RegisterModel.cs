namespace Kv.Chaos.Linearizability;

/// <summary>
/// A register with read, write, compare-and-swap and delete; the state is its value (null:
/// absent). A CAS that applied needs the expected value; one that did not needs another value and
/// reports it as the current one (so a mismatch is also a read).
/// </summary>
public sealed class RegisterModel : ISequentialModel<string?>
{
    public static readonly RegisterModel Instance = new();

    public string Name => "register";

    public string? Initial => null;

    public bool Step(string? state, LinOp op, out string? next)
    {
        next = state;
        switch (op.Kind)
        {
            case LinKind.Read:
                return op.IsOpen || op.Value == state;
            case LinKind.Write:
                next = op.Value;
                return true;
            case LinKind.Delete:
                next = null;
                return true;
            case LinKind.Cas:
                bool matches = op.Expected == state;
                if (op.IsOpen)
                {
                    if (matches)
                        next = op.Value;
                    return true;
                }
                if (op.Succeeded)
                {
                    next = op.Value;
                    return matches;
                }
                return !matches && op.Current == state;
            default:
                return false; // not a register operation
        }
    }

    /// <summary>
    /// Leaves out open reads (no effect) and open writes and CASes whose value no completed read,
    /// CAS result or CAS expectation ever mentions: were such a write linearized, nothing could
    /// succeed on its value until the next write or delete, so a linearization with it gives one
    /// without it (dropping the open CASes that found it there, which may equally never happen).
    /// </summary>
    public IReadOnlyList<LinOp> Prune(IReadOnlyList<LinOp> ops)
    {
        var observed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var op in ops)
        {
            if (op.Kind == LinKind.Cas && op.Expected is not null)
                observed.Add(op.Expected);
            if (op.IsOpen)
                continue;
            if (op.Kind == LinKind.Read && op.Value is not null)
                observed.Add(op.Value);
            if (op.Kind == LinKind.Cas && op.Current is not null)
                observed.Add(op.Current);
        }
        return ops.Where(op => !op.IsOpen
            || op.Kind == LinKind.Delete
            || (op.Kind is LinKind.Write or LinKind.Cas && op.Value is not null && observed.Contains(op.Value))).ToList();
    }

    /// <summary>Open deletes are alike (writes and CASes carry unique values).</summary>
    public string? Interchangeable(LinOp op) => op.IsOpen && op.Kind == LinKind.Delete ? "delete" : null;

    public string Describe(string? state) => state ?? "(absent)";
}
