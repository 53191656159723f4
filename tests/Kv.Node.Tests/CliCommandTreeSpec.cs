using System.CommandLine;
using Kv.Actors.Admin;
using Kv.Actors.Ring;
using Kv.Cli;
using Spectre.Console;

namespace Kv.Node.Tests;

/// <summary>
/// The `kv` command tree (System.CommandLine) in-process, without any node: help on every verb,
/// "did you mean" for a misspelt command or option (exit 2), usage errors (exit 2, nothing sent:
/// --nodes points at a port where nobody listens, so a request sent would exit 5), the Spectre
/// tables of `kv cluster status|ring` and their plain forms, and a verb with its own parser.
/// </summary>
public sealed class CliCommandTreeSpec
{
    private const string Nobody = "127.0.0.1:1";

    private static (int Code, string Out, string Err) Kv(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = Cli.Program.Run(args, new StringReader(""), stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Every command path of the tree ("put", "cluster status", ...), leaves and groups.</summary>
    private static IEnumerable<string[]> Paths(Command command, string[] prefix)
    {
        foreach (var sub in command.Subcommands)
        {
            string[] path = [.. prefix, sub.Name];
            yield return path;
            foreach (var deeper in Paths(sub, path))
                yield return deeper;
        }
    }

    [Fact]
    public void Every_verb_has_help_with_its_description_usage_and_options()
    {
        var root = CommandTree.Build(new CliOutput(TextReader.Null, TextWriter.Null, TextWriter.Null, null));
        var paths = Paths(root, []).ToList();
        // The verbs of the old dispatcher are all there.
        string[] expected = ["storage", "put", "get", "del", "exists", "ttl", "mget", "mput", "scan", "cluster", "dev", .. DataTypeCommands.Verbs];
        Assert.Empty(expected.Except(root.Subcommands.Select(c => c.Name)));
        Assert.Empty(new[] { "status", "ring", "transfers", "hints", "aae", "leave", "down" }.Except(root.Subcommands.Single(c => c.Name == "cluster").Subcommands.Select(c => c.Name)));
        Assert.Empty(StorageCommands.Commands.Except(root.Subcommands.Single(c => c.Name == "storage").Subcommands.Select(c => c.Name)));
        Assert.Empty(new[] { "start", "stop", "certs" }.Except(root.Subcommands.Single(c => c.Name == "dev").Subcommands.Select(c => c.Name)));
        foreach (var path in paths)
        {
            var help = Kv([.. path, "--help"]);
            Assert.True(help.Code == 0, $"kv {string.Join(' ', path)} --help: {help.Code} {help.Err}");
            Assert.Contains("Usage:", help.Out, StringComparison.Ordinal);
            Assert.Contains("kv " + string.Join(' ', path), help.Out, StringComparison.Ordinal);
            Assert.Equal("", help.Err);
        }
        var put = Kv("put", "--help").Out;
        Assert.Contains("kv put <NS> <KEY> [<VALUE>] [options]", put, StringComparison.Ordinal);
        Assert.Contains("--ttl <duration>", put, StringComparison.Ordinal);
        Assert.Contains("--nodes <host:port,...>", put, StringComparison.Ordinal);
        var cluster = Kv("help", "cluster"); // `kv help X` is `kv X --help`
        Assert.Equal(0, cluster.Code);
        foreach (string sub in new[] { "status", "ring", "transfers", "hints", "aae", "leave", "down" })
            Assert.Contains(sub, cluster.Out, StringComparison.Ordinal);
        var top = Kv("--help");
        Assert.Equal(0, top.Code);
        Assert.Contains("Exit codes: 0 ok, 1 not found, 2 usage error", top.Out, StringComparison.Ordinal);
        Assert.Contains("usage: kv", Kv().Err, StringComparison.Ordinal); // no arguments: the overview, exit 2
        Assert.Equal(ExitCodes.Usage, Kv().Code);
    }

    [Theory]
    [InlineData("unknown command 'clutser'; did you mean 'cluster'?", "clutser", "status")]
    [InlineData("unknown command 'gte'; did you mean 'get'?", "gte", "default", "k")]
    [InlineData("unknown cluster command 'stauts'; did you mean 'status'?", "cluster", "stauts")]
    [InlineData("unknown storage command 'verfy'; did you mean 'verify'?", "storage", "verfy", "--dir", "/nonexistent")]
    [InlineData("unknown option --rwa; did you mean '--raw'?", "get", "default", "k", "--rwa")]
    [InlineData("unknown command 'frobnicate' (kv --help lists them)", "frobnicate")]
    public void A_typo_gets_a_suggestion_and_exit_2(string says, params string[] args)
    {
        var r = Kv([.. args, "--nodes", Nobody]);
        Assert.Equal(ExitCodes.Usage, r.Code);
        Assert.Contains("error: " + says, r.Err, StringComparison.Ordinal);
        Assert.Equal("", r.Out);
    }

    [Theory]
    [InlineData("put needs KEY; usage: kv put NS KEY [VALUE] [options]", "put", "--nodes", Nobody, "default")]
    [InlineData("unexpected argument 'extra'; usage: kv exists NS KEY [options]", "exists", "--nodes", Nobody, "default", "k", "extra")]
    [InlineData("BY must be a whole number", "incr", "--nodes", Nobody, "counters", "visits", "ten")]
    [InlineData("--r needs a small whole number, not 'many'", "get", "--nodes", Nobody, "default", "k", "--r", "many")]
    [InlineData("option --timeout needs a value", "get", "--nodes", Nobody, "default", "k", "--timeout")]
    [InlineData("--ttl needs a duration", "put", "--nodes", Nobody, "default", "k", "v", "--ttl", "soon")]
    [InlineData("--context:", "del", "--nodes", Nobody, "default", "k", "--context", "!!not-a-context!!")]
    [InlineData("FIELD VALUE pairs", "hset", "--nodes", Nobody, "hashes", "h", "lonely-field")]
    [InlineData("--limit needs a whole number 1..10000", "scan", "--nodes", Nobody, "default", "--limit", "0")]
    [InlineData("missing cluster command (status, ring, transfers", "cluster")]
    [InlineData("missing required option --dir", "storage", "get", "k")]
    [InlineData("--nodes must be 1..99", "dev", "certs", "--dir", "/nonexistent/certs", "--nodes", "0")]
    [InlineData("--days needs a whole number, not 'many'", "dev", "certs", "--dir", "/nonexistent/certs", "--days", "many")]
    [InlineData("--limit needs a whole number 1..10000, not 'lots'", "scan", "--nodes", Nobody, "default", "--limit", "lots")]
    public void A_usage_error_says_what_is_wrong_and_exits_2_without_sending_anything(string says, params string[] args)
    {
        var r = Kv(args);
        Assert.Equal(ExitCodes.Usage, r.Code);
        Assert.Contains(says, r.Err, StringComparison.Ordinal);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Negative_numbers_and_values_after_a_double_dash_are_arguments_not_options()
    {
        // Parsed without a usage error: the request goes out and finds nobody (exit 5).
        var root = CommandTree.Build(new CliOutput(TextReader.Null, TextWriter.Null, TextWriter.Null, null));
        Assert.Null(CommandTree.UsageError(root.Parse(["lrange", "l", "k", "0", "-1"], CommandTree.Parser)));
        Assert.Null(CommandTree.UsageError(root.Parse(["decr", "c", "k", "-5"], CommandTree.Parser)));
        Assert.Null(CommandTree.UsageError(root.Parse(["put", "default", "--", "--not-an-option", "v"], CommandTree.Parser)));
        Assert.Null(CommandTree.UsageError(root.Parse(["put", "default", "k", "@not-a-response-file"], CommandTree.Parser)));
        var parsed = root.Parse(["put", "default", "--", "--key"], CommandTree.Parser);
        Assert.Equal("--key", parsed.GetValue<string>("KEY"));
        Assert.NotNull(CommandTree.UsageError(root.Parse(["put", "default", "--key", "v"], CommandTree.Parser)));
    }

    private static ClusterStatus Status()
    {
        const string a = "akka.tcp://kv@127.0.0.1:2551", b = "akka.tcp://kv@127.0.0.1:2552", c = "akka.tcp://kv@127.0.0.1:2553";
        string[] owners = [a, a, a, b, b, b, a, b];
        string[] pending = [a, a, b, b, b, b, a, b];
        var ring = new Ring(7, owners, pending);
        return new ClusterStatus(a, a, Convergence: true,
            [new MemberInfo(a, "Up", true, []), new MemberInfo(b, "Up", true, []), new MemberInfo(c, "Up", false, [])], ring, DefaultNVal: 3) { Serving = true };
    }

    [Fact]
    public void Cluster_status_and_ring_render_as_tables_on_a_terminal_and_as_plain_text_otherwise()
    {
        var status = Status();
        var screen = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(screen),
        });
        console.Profile.Width = 140;
        ClusterTables.RenderStatus(status, console);
        string table = screen.ToString();
        var row = table.Split('\n').Single(l => l.Contains("127.0.0.1:2551", StringComparison.Ordinal));
        Assert.Matches(@"│\s*akka\.tcp://kv@127\.0\.0\.1:2551\s*│\s*Up\s*│\s*yes\s*│\s*4\s*│\s*3\s*│\s*leader\s*│", row);
        Assert.Matches(@"│\s*akka\.tcp://kv@127\.0\.0\.1:2553\s*│\s*Up\s*│\s*NO\s*│\s*0\s*│\s*0\s*│", table);
        Assert.Contains("ring: v7, 8 partitions, 1 transfers pending; convergence: yes", table, StringComparison.Ordinal);
        Assert.Contains("warning: akka.tcp://kv@127.0.0.1:2553 is unreachable", table, StringComparison.Ordinal);

        // The ring compactly: one row per run of partitions with the same owner and pending owner.
        screen.GetStringBuilder().Clear();
        ClusterTables.RenderRing(status.Ring!, console);
        string ring = screen.ToString();
        Assert.Equal([(0, 1), (2, 2), (3, 5), (6, 6), (7, 7)], ClusterTables.Runs(status.Ring!));
        Assert.Matches(@"│\s*0-1\s*│\s*akka\.tcp://kv@127\.0\.0\.1:2551\s*│\s*│", ring);
        Assert.Matches(@"│\s*2\s*│\s*akka\.tcp://kv@127\.0\.0\.1:2551\s*│\s*akka\.tcp://kv@127\.0\.0\.1:2552\s*│", ring);
        Assert.Matches(@"│\s*3-5\s*│\s*akka\.tcp://kv@127\.0\.0\.1:2552\s*│", ring);
        Assert.Contains("partitions per owner: akka.tcp://kv@127.0.0.1:2551 4, akka.tcp://kv@127.0.0.1:2552 4", ring, StringComparison.Ordinal);

        // Plain (redirected output, tests, --plain): the formats scripts parse.
        var plain = new StringWriter();
        ClusterCommands.PrintStatus(status, plain);
        var lines = plain.ToString().Split('\n');
        Assert.Matches(@"^member\s+status\s+reachable\s+owns\s+pending$", lines[0]);
        Assert.Matches(@"^akka\.tcp://kv@127\.0\.0\.1:2551\s+Up\s+yes\s+4\s+3 \(leader\)$", lines[1]);
        plain = new StringWriter();
        ClusterCommands.PrintRing(status.Ring!, plain);
        lines = plain.ToString().Split('\n');
        Assert.Equal("ring v7: 8 partitions, 2 nodes, 1 transfers pending", lines[0]);
        Assert.Equal("   2\takka.tcp://kv@127.0.0.1:2551\t-> akka.tcp://kv@127.0.0.1:2552", lines[3]);
        Assert.Equal("   3\takka.tcp://kv@127.0.0.1:2552", lines[4]);
    }

    [Fact]
    public void A_verb_with_its_own_parser_gets_every_token_after_it_and_help_from_the_tree()
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var root = CommandTree.Build(new CliOutput(TextReader.Null, stdout, stderr, null));
        (string Verb, string[] Args)? seen = null;
        root.Subcommands.Add(CommandTree.Passthrough("echo", "prints what it was given", "kv echo [ANYTHING...]", (verb, args, o, e) =>
        {
            seen = (verb, args);
            o.WriteLine(string.Join('|', args));
            return Task.FromResult(ExitCodes.Ok);
        }, new CliOutput(TextReader.Null, stdout, stderr, null)));
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        var parsed = root.Parse(["echo", "verify", "--nodes", "a:1", "--bogus", "-x", "DIR"], CommandTree.Parser);
        Assert.Null(CommandTree.UsageError(parsed));
        Assert.Equal(0, parsed.Invoke(config));
        Assert.Equal("echo", seen!.Value.Verb);
        Assert.Equal(["verify", "--nodes", "a:1", "--bogus", "-x", "DIR"], seen.Value.Args);
        stdout.GetStringBuilder().Clear();
        Assert.Equal(0, root.Parse(["echo", "--help"], CommandTree.Parser).Invoke(config));
        Assert.Contains("usage: kv echo [ANYTHING...]", stdout.ToString(), StringComparison.Ordinal);
        // A typo of it is suggested like any verb.
        Assert.Contains("did you mean 'echo'?", CommandTree.UsageError(root.Parse(["ecoh"], CommandTree.Parser)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_progress_bar_shows_what_the_work_reports_on_a_terminal_and_nothing_when_redirected()
    {
        // An interactive ANSI terminal: the live display redraws the bar in place.
        var screen = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(screen),
        });
        int code = await CliProgress.RunAsync(console, "restore", progress =>
        {
            progress.Report(new ProgressReport(5, 10, "partition 3"));
            progress.Report(new ProgressReport(10, 10, "partition 7"));
            return Task.FromResult(ExitCodes.Ok);
        });
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("restore: partition 7", screen.ToString(), StringComparison.Ordinal);
        Assert.Contains("100%", screen.ToString(), StringComparison.Ordinal);

        // Redirected (a StringWriter is not the console): the work runs, its exit code comes back, nothing is drawn.
        var redirected = new StringWriter();
        Assert.Null(CliProgress.TerminalFor(redirected));
        Assert.Equal(ExitCodes.Corruption, await CliProgress.RunAsync(redirected, "verify", progress =>
        {
            progress.Report(new ProgressReport(1, 2));
            return Task.FromResult(ExitCodes.Corruption);
        }));
        Assert.Equal("", redirected.ToString());
    }
}
