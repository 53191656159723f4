namespace Kv.Cli;

/// <summary>Exit codes scripts can rely on (README: "kv exit codes").</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>`get` found no value.</summary>
    public const int NotFound = 1;

    /// <summary>Bad command line: unknown command or option, missing or invalid argument.</summary>
    public const int Usage = 2;

    /// <summary>Stored data failed a checksum or could not be decoded.</summary>
    public const int Corruption = 3;

    /// <summary>I/O failure, or the directory is locked by another process.</summary>
    public const int IoError = 4;

    /// <summary>No node answered (cluster down, wrong --nodes), or the request timed out.</summary>
    public const int Unavailable = 5;

    /// <summary>Fewer replicas answered than the quorum needed (the message says how many).</summary>
    public const int QuorumNotMet = 6;

    /// <summary>The cluster refused the request: bad key, value too large, unknown namespace, too many siblings, bad quorum override.</summary>
    public const int Refused = 7;

    /// <summary>`get --raw` found siblings (print them without --raw).</summary>
    public const int Siblings = 8;

    /// <summary>`cas` found another value than expected (it prints that value, or "(absent)"); nothing was changed.</summary>
    public const int CasMismatch = 9;

    /// <summary>Not authenticated: login refused (wrong user or password, too many failed logins), or the cluster needs a login (--user/--password).</summary>
    public const int NotAuthenticated = 10;

    /// <summary>Not allowed: the user's grants do not allow the request (docs/security.md).</summary>
    public const int NotAllowed = 11;
}
