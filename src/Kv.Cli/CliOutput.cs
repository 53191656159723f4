using Kv.Actors.Coordinators;
using Kv.Client;
using Spectre.Console;

namespace Kv.Cli;

/// <summary>
/// Where a command reads and writes. <see cref="Terminal"/> is the Spectre console when standard
/// output is an interactive terminal (Program.Main with Console.Out not redirected), else null;
/// <see cref="Rich"/> is that console unless --plain was given: commands draw tables and progress
/// bars on it, and print their plain, parseable text otherwise (pipes, files, tests).
/// </summary>
public sealed record CliOutput(TextReader Stdin, TextWriter Stdout, TextWriter Stderr, IAnsiConsole? Terminal)
{
    /// <summary>Plain text forced (--plain).</summary>
    public bool Plain { get; init; }

    /// <summary>The console to draw tables and progress bars on, or null for plain text.</summary>
    public IAnsiConsole? Rich => Plain ? null : Terminal;
}

/// <summary>The contact points and security of the client, and the per-request overrides (quorums, timeout).</summary>
public sealed record ClientSettings(KvClientOptions Options, RequestOptions Request);
