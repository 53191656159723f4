using System.Globalization;

namespace Kv.Chaos.Linearizability;

/// <summary>What an operation of a linearizability history does.</summary>
public enum LinKind
{
    /// <summary>Reads the register (<see cref="LinOp.Value"/>: what it saw, null when absent) or the counter (<see cref="LinOp.Number"/>).</summary>
    Read,

    /// <summary>Writes <see cref="LinOp.Value"/>.</summary>
    Write,

    /// <summary>Compare-and-swap: <see cref="LinOp.Expected"/> (null: expect absent) to <see cref="LinOp.Value"/>; <see cref="LinOp.Succeeded"/> and <see cref="LinOp.Current"/> are its result.</summary>
    Cas,

    /// <summary>Deletes the register.</summary>
    Delete,

    /// <summary>Adds <see cref="LinOp.Amount"/> to the counter; <see cref="LinOp.Number"/> is the new value it returned.</summary>
    Increment,
}

/// <summary>
/// One operation of a history for the linearizability checker: its invocation and completion
/// times (milliseconds), or no completion when it is open (timed out or never answered: it may
/// take effect at any point after its invocation, or never, and its result is unknown).
/// </summary>
/// <param name="Kind">What it does.</param>
/// <param name="Key">The key (the checker partitions the history by key).</param>
/// <param name="Process">Who issued it (a client).</param>
/// <param name="Invoke">When it was invoked.</param>
/// <param name="Complete">When it completed (null: open).</param>
public sealed record LinOp(LinKind Kind, string Key, string Process, double Invoke, double? Complete)
{
    /// <summary>Write and CAS: the value written; read: the value seen (null: absent; a counter read also sets <see cref="Number"/>).</summary>
    public string? Value { get; init; }

    /// <summary>CAS: the value expected (null: expect the key absent).</summary>
    public string? Expected { get; init; }

    /// <summary>CAS: whether it applied (known only when completed).</summary>
    public bool Succeeded { get; init; }

    /// <summary>CAS: the value after the operation (null: absent).</summary>
    public string? Current { get; init; }

    /// <summary>Increment: the amount added.</summary>
    public long Amount { get; init; }

    /// <summary>Increment: the new value returned; counter read: the value seen.</summary>
    public long Number { get; init; }

    /// <summary>True when it never completed (its result is unknown; it may have taken effect or not).</summary>
    public bool IsOpen => Complete is null;

    /// <summary>A short description for messages: "c3 cas x: v1 -> v2 = ok [120.0, 131.5] ms".</summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        static string V(string? v) => v ?? "(absent)";
        string what = Kind switch
        {
            LinKind.Read => IsOpen ? "read" : $"read = {V(Value)}",
            LinKind.Write => $"write {V(Value)}",
            LinKind.Delete => "delete",
            LinKind.Cas => $"cas {V(Expected)} -> {V(Value)}" + (IsOpen ? "" : Succeeded ? " = ok" : $" = mismatch, current {V(Current)}"),
            LinKind.Increment => $"incr {Amount.ToString(inv)}" + (IsOpen ? "" : $" = {Number.ToString(inv)}"),
            _ => Kind.ToString(),
        };
        string times = IsOpen ? string.Create(inv, $"[{Invoke:0.0}, open]") : string.Create(inv, $"[{Invoke:0.0}, {Complete:0.0}]");
        return $"{Process} {what} on {Key} {times} ms";
    }
}
