namespace Kv.Actors.Coordinators;

/// <summary>
/// Per-namespace settings (Riak's bucket properties) with the defaults of DESIGN.md section 6.
/// Validate() names the first bad setting.
/// </summary>
public sealed record NamespaceProps
{
    public int NVal { get; init; } = 3;
    public int R { get; init; } = 2;
    public int W { get; init; } = 2;
    public int DW { get; init; } = 2;
    public int PR { get; init; }
    public int PW { get; init; }
    public bool NotFoundOk { get; init; } = true;
    public bool BasicQuorum { get; init; }
    /// <summary>Fallbacks stand in for unreachable primaries (Riak's sloppy quorum).</summary>
    public bool SloppyQuorum { get; init; } = true;
    public bool AllowMult { get; init; } = true;
    public bool LastWriteWins { get; init; }
    public int SiblingsWarn { get; init; } = 25;
    public int SiblingsMax { get; init; } = 100;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The namespace's data type: none (opaque values, siblings) or a CRDT (counter, set, register):
    /// then values change only by that type's operations, concurrent updates merge, and reads never
    /// show siblings.
    /// </summary>
    public Kv.Actors.Crdt.Datatype Datatype { get; init; }

    /// <summary>
    /// Linearizable namespace (consistent = on): every operation goes through Paxos over the key's
    /// N primaries (docs/consistency.md); only with datatype none.
    /// </summary>
    public bool Consistent { get; init; }

    public static readonly NamespaceProps Default = new();

    public NamespaceProps Validate(string name)
    {
        // Generic: a request's settings are validated on every request, and an object parameter boxed each value.
        void Check<T>(bool ok, string setting, T value, string rule)
        {
            if (!ok)
                throw new ArgumentOutOfRangeException(setting, value, $"namespace '{name}': {setting} = {value}: {rule}");
        }
        Check(NVal >= 1, "n_val", NVal, "must be at least 1");
        Check(R >= 1 && R <= NVal, "r", R, "must be 1..n_val");
        Check(W >= 1 && W <= NVal, "w", W, "must be 1..n_val");
        Check(DW >= 0 && DW <= W, "dw", DW, "must be 0..w");
        Check(PR >= 0 && PR <= R, "pr", PR, "must be 0..r");
        Check(PW >= 0 && PW <= W, "pw", PW, "must be 0..w");
        Check(!(AllowMult && LastWriteWins), "last_write_wins", LastWriteWins, "cannot be on together with allow_mult");
        // (These messages are built only when the check fails: this runs per request.)
        if (Datatype != Kv.Actors.Crdt.Datatype.None && LastWriteWins)
            Check(false, "last_write_wins", LastWriteWins, $"cannot be on in a namespace of datatype {Kv.Actors.Crdt.CrdtValues.Name(Datatype)} (its updates merge)");
        if (Datatype != Kv.Actors.Crdt.Datatype.None && Consistent)
            Check(false, "consistent", Consistent, $"cannot be on in a namespace of datatype {Kv.Actors.Crdt.CrdtValues.Name(Datatype)} (only with datatype none)");
        Check(SiblingsWarn >= 1 && SiblingsMax >= SiblingsWarn, "max_siblings", SiblingsMax, "must be >= warn_siblings >= 1");
        Check(Timeout > TimeSpan.Zero, "timeout", Timeout, "must be positive");
        return this;
    }
}
