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
}
