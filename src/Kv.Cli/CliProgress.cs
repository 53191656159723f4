using Spectre.Console;

namespace Kv.Cli;

/// <summary>How far a long command has got: <paramref name="Done"/> of <paramref name="Total"/> units (keys, bytes, partitions), and what it is at.</summary>
public readonly record struct ProgressReport(long Done, long Total, string? Item = null);

/// <summary>
/// A progress bar for a long command (backup, restore, a bulk load) on a terminal; nothing extra
/// when output is redirected, so stdout stays what scripts parse. A verb with the old
/// `RunAsync(verb, args, stdout, stderr)` entry calls <see cref="RunAsync(TextWriter, string, Func{IProgress{ProgressReport}, Task{int}})"/>
/// with its stdout; the bar is drawn only when that is the real console on a terminal.
/// </summary>
public static class CliProgress
{
    /// <summary>The Spectre console if <paramref name="stdout"/> is the process's standard output on a terminal, else null.</summary>
    public static IAnsiConsole? TerminalFor(TextWriter stdout) =>
        ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected ? AnsiConsole.Console : null;

    /// <summary>Runs <paramref name="work"/>, showing what it reports as a bar when <paramref name="stdout"/> is a terminal.</summary>
    public static Task<int> RunAsync(TextWriter stdout, string description, Func<IProgress<ProgressReport>, Task<int>> work) =>
        RunAsync(TerminalFor(stdout), description, work);

    /// <summary>Runs <paramref name="work"/> with a bar on <paramref name="console"/> (null: no bar, the reports are dropped).</summary>
    public static async Task<int> RunAsync(IAnsiConsole? console, string description, Func<IProgress<ProgressReport>, Task<int>> work)
    {
        if (console is null)
            return await work(new Reporter(null, description)).ConfigureAwait(false);
        int result = 0;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(description), maxValue: 1);
                task.IsIndeterminate = true;
                result = await work(new Reporter(task, description)).ConfigureAwait(false);
                if (result == ExitCodes.Ok)
                {
                    task.IsIndeterminate = false;
                    task.Value = task.MaxValue;
                }
                task.StopTask();
            }).ConfigureAwait(false);
        return result;
    }

    /// <summary>Applies each report to the bar at once (System.Progress would post it to the thread pool, out of order).</summary>
    private sealed class Reporter(ProgressTask? task, string description) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value)
        {
            if (task is null)
                return;
            task.IsIndeterminate = value.Total <= 0;
            task.MaxValue = Math.Max(1, value.Total);
            task.Value = Math.Min(value.Done, task.MaxValue);
            task.Description = Markup.Escape(value.Item is null ? description : $"{description}: {value.Item}");
        }
    }
}
