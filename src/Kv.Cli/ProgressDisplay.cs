using Spectre.Console;

namespace Kv.Cli;

/// <summary>Progress reported as it happens, on the reporting thread (no posting to a synchronization context).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>
/// Shows a long command's progress on stderr: a Spectre.Console progress bar when stderr is the
/// process's own terminal, else plain lines ("backup: 12/64 partitions, ...") at most one a
/// second, and the last one.
/// </summary>
internal static class ProgressDisplay
{
    /// <summary>Runs <paramref name="work"/>, giving it a function to report (done, total, text) with.</summary>
    public static async Task<T> RunAsync<T>(TextWriter stderr, string title, Func<Action<long, long, string>, Task<T>> work)
    {
        if (ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            return await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask(title);
                    var gate = new object();
                    var result = await work((done, total, text) =>
                    {
                        lock (gate)
                        {
                            task.MaxValue = Math.Max(1, total);
                            task.Value = Math.Min(done, task.MaxValue);
                            task.Description = $"{title}: {Markup.Escape(text)}";
                        }
                    }).ConfigureAwait(false);
                    task.Value = task.MaxValue;
                    return result;
                }).ConfigureAwait(false);
        }
        long lastShown = 0;
        string? last = null, printed = null;
        var sync = new object();
        var outcome = await work((done, total, text) =>
        {
            lock (sync)
            {
                last = text;
                long now = Environment.TickCount64;
                if ((now - lastShown < 1000 && done < total) || text == printed)
                    return;
                lastShown = now;
                stderr.WriteLine($"{title}: {text}");
                printed = text;
                last = null;
            }
        }).ConfigureAwait(false);
        lock (sync)
        {
            if (last is not null && last != printed)
                stderr.WriteLine($"{title}: {last}");
        }
        return outcome;
    }
}
