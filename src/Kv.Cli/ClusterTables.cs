using System.Globalization;
using Kv.Actors.Admin;
using Kv.Actors.Vnode;
using Kv.Client;
using Spectre.Console;

namespace Kv.Cli;

/// <summary>
/// The cluster commands on a terminal (Spectre.Console): tables for status, ring and transfers,
/// progress bars for `kv cluster transfers --watch`. Redirected output, and --plain, get the plain
/// text of <see cref="ClusterCommands"/> instead.
/// </summary>
public static class ClusterTables
{
    /// <summary>Members (status, reachability, partitions owned and pending, the leader), then the ring's state and warnings.</summary>
    public static void RenderStatus(ClusterStatus status, IAnsiConsole console)
    {
        var ring = status.Ring;
        var table = new Table().Border(TableBorder.Rounded).Title("cluster members");
        table.AddColumn("member");
        table.AddColumn("status");
        table.AddColumn("reachable");
        table.AddColumn(new TableColumn("owns").RightAligned());
        table.AddColumn(new TableColumn("pending").RightAligned());
        table.AddColumn("");
        foreach (var m in status.Members)
        {
            int owns = ring?.Owners.Count(o => o == m.Address) ?? 0;
            int pending = ring?.Pending.Count(o => o == m.Address) ?? 0;
            string state = m.Status == "Up" ? "[green]Up[/]" : Markup.Escape(m.Status);
            table.AddRow(
                Markup.Escape(m.Address),
                state,
                m.Reachable ? "[green]yes[/]" : "[red bold]NO[/]",
                Num(owns),
                Num(pending),
                m.Address == status.Leader ? "leader" : "");
        }
        console.Write(table);
        console.MarkupLine(ring is null
            ? "ring: [yellow]none yet[/]"
            : $"ring: v{ring.Version}, {ring.Size} partitions, {(ring.Settled ? "[green]settled[/]" : $"[yellow]{ring.Transfers.Count()} transfers pending[/]")}; convergence: {(status.Convergence ? "yes" : "[yellow]no[/]")}");
        foreach (string warning in ClusterCommands.Warnings(status))
            console.MarkupLine("[yellow]warning:[/] " + Markup.Escape(warning));
    }

    /// <summary>The ring compactly: runs of consecutive partitions with the same owner and pending owner as one row.</summary>
    public static void RenderRing(Kv.Actors.Ring.Ring ring, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"ring v{ring.Version}: {ring.Size} partitions, {ring.Members.Count} nodes, {ring.Transfers.Count()} transfers pending");
        table.AddColumn(new TableColumn("partitions").RightAligned());
        table.AddColumn("owner");
        table.AddColumn("-> pending owner");
        foreach (var (first, last) in Runs(ring))
        {
            string range = first == last ? Num(first) : $"{Num(first)}-{Num(last)}";
            string pending = ring.Pending[first] == ring.Owners[first] ? "" : "[yellow]" + Markup.Escape(ring.Pending[first]) + "[/]";
            table.AddRow(range, Markup.Escape(ring.Owners[first]), pending);
        }
        console.Write(table);
        var owned = ring.Owners.GroupBy(o => o).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{Markup.Escape(g.Key)} {g.Count()}");
        console.MarkupLine("partitions per owner: " + string.Join(", ", owned));
    }

    /// <summary>Runs of consecutive partitions with the same owner and pending owner: (first, last) each.</summary>
    public static IEnumerable<(int First, int Last)> Runs(Kv.Actors.Ring.Ring ring)
    {
        int start = 0;
        for (int p = 1; p <= ring.Size; p++)
        {
            if (p == ring.Size || ring.Owners[p] != ring.Owners[start] || ring.Pending[p] != ring.Pending[start])
            {
                yield return (start, p - 1);
                start = p;
            }
        }
    }

    /// <summary>Transfers in progress per node as a table, and the partitions still to move.</summary>
    public static int RenderTransfers(ClusterTransfers transfers, ClusterStatus status, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("transfers in progress");
        table.AddColumn("node");
        table.AddColumn(new TableColumn("partition").RightAligned());
        table.AddColumn("-> target");
        table.AddColumn("state");
        table.AddColumn(new TableColumn("keys").RightAligned());
        table.AddColumn(new TableColumn("KiB").RightAligned());
        table.AddColumn("last error");
        int active = 0;
        foreach (var node in transfers.Nodes)
        {
            if (node.Status is null)
            {
                table.AddRow(Markup.Escape(node.Node), "", "", "[red]no answer[/]", "", "", Markup.Escape(node.Error ?? ""));
                continue;
            }
            foreach (var t in node.Status.Transfers.Where(t => t.State is not HandoffState.Done))
            {
                active++;
                table.AddRow(Markup.Escape(node.Node), Num(t.Partition), Markup.Escape(t.Target), t.State == HandoffState.Failed ? "[red]Failed[/]" : t.State.ToString(),
                    t.Keys.ToString(CultureInfo.InvariantCulture), (t.Bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture), Markup.Escape(t.LastError ?? ""));
            }
        }
        if (active > 0)
            console.Write(table);
        else
            console.MarkupLine("[green]no transfers in progress[/]");
        var ring = status.Ring;
        console.MarkupLine(ring is null ? "ring: none yet" : $"ring v{ring.Version}: {ring.Transfers.Count()} partitions still to move");
        return active;
    }

    /// <summary>
    /// Progress bars until no transfer is left and the ring has settled: one for the partitions the
    /// ring still has to move (out of the most seen), one per transfer in progress (keys and bytes
    /// sent so far; full when it is done).
    /// </summary>
    public static async Task WatchTransfersAsync(KvClient client, IAnsiConsole console)
    {
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var ringTask = ctx.AddTask("ring: partitions moved");
                var tasks = new Dictionary<(string Node, int Partition, string Target), ProgressTask>();
                int most = 0;
                while (true)
                {
                    var transfers = await client.GetTransfersAsync().ConfigureAwait(false);
                    var status = await client.GetClusterStatusAsync().ConfigureAwait(false);
                    int left = status.Ring?.Transfers.Count() ?? 0;
                    most = Math.Max(most, left);
                    ringTask.MaxValue = Math.Max(1, most);
                    ringTask.Value = most - left;
                    ringTask.Description = $"ring v{status.Ring?.Version}: {most - left} of {most} partitions moved";
                    var seen = new HashSet<(string, int, string)>();
                    int active = 0;
                    foreach (var node in transfers.Nodes)
                    {
                        foreach (var t in node.Status?.Transfers ?? [])
                        {
                            var id = (node.Node, t.Partition, t.Target);
                            seen.Add(id);
                            bool done = t.State == HandoffState.Done;
                            if (!tasks.TryGetValue(id, out var task))
                            {
                                if (done)
                                    continue;
                                task = ctx.AddTask("", maxValue: 1);
                                task.IsIndeterminate = true;
                                tasks[id] = task;
                            }
                            if (!done)
                                active++;
                            task.Description = Markup.Escape($"{Short(node.Node)} p{t.Partition} -> {Short(t.Target)}: {t.State}, {t.Keys} keys, {t.Bytes / 1024.0:0.0} KiB")
                                + (t.LastError is null ? "" : " [red]" + Markup.Escape(t.LastError) + "[/]");
                            if (done)
                                Finish(task);
                        }
                    }
                    foreach (var (id, task) in tasks.Where(kv => !seen.Contains(kv.Key)))
                        Finish(task);
                    if (active == 0 && (status.Ring?.Settled ?? false))
                    {
                        ringTask.Value = ringTask.MaxValue;
                        return;
                    }
                    await Task.Delay(1000).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
    }

    private static void Finish(ProgressTask task)
    {
        task.IsIndeterminate = false;
        task.Value = task.MaxValue;
        task.StopTask();
    }

    private static string Short(string address) => address.Contains('@', StringComparison.Ordinal) ? address[(address.IndexOf('@', StringComparison.Ordinal) + 1)..] : address;

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);
}
