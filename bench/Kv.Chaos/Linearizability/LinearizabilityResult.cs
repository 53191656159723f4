using System.Globalization;
using System.Text;

namespace Kv.Chaos.Linearizability;

/// <summary>The checker's verdict on a history (or on one key of it).</summary>
public enum LinVerdict
{
    Linearizable,
    NotLinearizable,

    /// <summary>The time budget ran out before the search ended: neither valid nor invalid.</summary>
    Unknown,
}

/// <summary>
/// The verdict on one key. When not linearizable: <see cref="Offending"/> is the first operation
/// that cannot be linearized after <see cref="LongestPrefix"/>, the longest linearizable prefix
/// the search found (in linearization order), which leaves the key in <see cref="StateAfterPrefix"/>.
/// </summary>
/// <param name="Key">The key.</param>
/// <param name="Verdict">Linearizable, not, or unknown (out of time).</param>
/// <param name="Operations">Operations searched (after pruning).</param>
/// <param name="Offending">The operation that cannot be linearized (null unless not linearizable).</param>
/// <param name="LongestPrefix">The longest linearizable prefix found (empty unless not linearizable).</param>
/// <param name="StateAfterPrefix">The model's state after that prefix.</param>
/// <param name="Steps">Search steps taken.</param>
/// <param name="Elapsed">Time the search took.</param>
public sealed record KeyVerdict(string Key, LinVerdict Verdict, int Operations, LinOp? Offending, IReadOnlyList<LinOp> LongestPrefix, string? StateAfterPrefix, long Steps, TimeSpan Elapsed)
{
    /// <summary>How many operations of the prefix <see cref="Message"/> shows (the last ones).</summary>
    public const int PrefixShown = 8;

    /// <summary>One paragraph: the verdict and, when not linearizable, the offending operation, its process and times, and the end of the longest linearizable prefix.</summary>
    public string Message
    {
        get
        {
            var inv = CultureInfo.InvariantCulture;
            switch (Verdict)
            {
                case LinVerdict.Linearizable:
                    return string.Create(inv, $"key {Key}: linearizable ({Operations} ops, {Steps} steps, {Elapsed.TotalMilliseconds:0} ms)");
                case LinVerdict.Unknown:
                    return string.Create(inv, $"key {Key}: unknown, the time budget ran out after {Steps} steps ({Operations} ops)");
            }
            var s = new StringBuilder();
            s.Append(inv, $"key {Key}: NOT linearizable: cannot linearize {Offending} (process {Offending?.Process}) after the longest linearizable prefix of {LongestPrefix.Count} ops, which leaves the key {StateAfterPrefix}");
            if (LongestPrefix.Count > 0)
            {
                s.Append(LongestPrefix.Count > PrefixShown ? "; its last ops: " : "; the prefix: ");
                s.AppendJoin("; ", LongestPrefix.Skip(Math.Max(0, LongestPrefix.Count - PrefixShown)));
            }
            return s.ToString();
        }
    }
}

/// <summary>The verdict on a whole history: not linearizable if a key is not, unknown if a key ran out of time, else linearizable.</summary>
/// <param name="Model">The sequential model checked against.</param>
/// <param name="Keys">Each key's verdict (in key order).</param>
public sealed record LinearizabilityResult(string Model, IReadOnlyList<KeyVerdict> Keys)
{
    public LinVerdict Verdict =>
        Keys.Any(k => k.Verdict == LinVerdict.NotLinearizable) ? LinVerdict.NotLinearizable
        : Keys.Any(k => k.Verdict == LinVerdict.Unknown) ? LinVerdict.Unknown
        : LinVerdict.Linearizable;

    /// <summary>Only a linearizable verdict is valid (unknown is not).</summary>
    public bool Valid => Verdict == LinVerdict.Linearizable;

    /// <summary>The first key found not linearizable (null if none).</summary>
    public KeyVerdict? FirstFailure => Keys.FirstOrDefault(k => k.Verdict == LinVerdict.NotLinearizable);

    public string VerdictName => Verdict switch
    {
        LinVerdict.Linearizable => "linearizable",
        LinVerdict.NotLinearizable => "NOT linearizable",
        _ => "unknown (time budget)",
    };
}
