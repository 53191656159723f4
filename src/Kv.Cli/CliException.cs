namespace Kv.Cli;

/// <summary>A command-line mistake: printed as "error: ..." with exit code 2.</summary>
public sealed class CliException(string message) : Exception(message);
