using System.Globalization;
using Kv.Actors.Metrics;
using Kv.Client;

namespace Kv.Cli;

/// <summary>
/// `kv stats [--node HOST:PORT] [--raw]`: every member's metrics (what its /metrics shows) on one
/// screen, one column per node, asked over the client protocol (no HTTP port needed). --raw prints
/// every sample instead, one `NODE NAME{LABELS} VALUE` line each.
/// </summary>
public static class StatsCommands
{
    private const int LabelWidth = 28;

    /// <summary>A row: its label and how to read it from a node's snapshot (null: a heading).</summary>
    private sealed record Row(string Label, Func<MetricsSnapshot, string>? Read);

    public static async Task<int> RunAsync(string verb, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args, "raw");
        var options = ClientArgs.Options(a);
        string? only = a.Option("node");
        bool raw = a.Flag("raw");
        a.Done(0);
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var cluster = await client.GetClusterMetricsAsync().ConfigureAwait(false);
        var nodes = cluster.Nodes
            .Where(n => only is null || n.Node == only || n.Node.EndsWith("@" + only, StringComparison.Ordinal))
            .OrderBy(n => n.Node, StringComparer.Ordinal)
            .ToList();
        if (nodes.Count == 0)
        {
            stderr.WriteLine(only is null ? "no members answered" : $"no member '{only}' in the cluster");
            return only is null ? ExitCodes.Unavailable : ExitCodes.Usage;
        }
        foreach (var n in nodes.Where(n => n.Snapshot is null))
            stderr.WriteLine($"{n.Node}: {n.Error ?? "no answer"}");
        var answered = nodes.Where(n => n.Snapshot is not null).Select(n => n.Snapshot!).ToList();
        if (answered.Count == 0)
            return ExitCodes.Unavailable;
        if (raw)
        {
            foreach (var s in answered)
            {
                foreach (var m in s.Samples)
                    stdout.WriteLine($"{s.Node} {m.Name}{(m.Labels.Length == 0 ? "" : "{" + m.Labels + "}")} {Number(m.Value)}");
            }
            return ExitCodes.Ok;
        }
        Print(answered, stdout);
        return answered.Count == nodes.Count ? ExitCodes.Ok : ExitCodes.Unavailable;
    }

    private static void Print(List<MetricsSnapshot> nodes, TextWriter stdout)
    {
        var names = nodes.Select(n => Short(n.Node)).ToList();
        int width = Math.Max(14, names.Max(n => n.Length) + 2);
        stdout.WriteLine("".PadRight(LabelWidth) + string.Concat(names.Select(n => n.PadLeft(width))));
        foreach (var row in Rows)
        {
            if (row.Read is null)
            {
                stdout.WriteLine(row.Label);
                continue;
            }
            stdout.WriteLine(("  " + row.Label).PadRight(LabelWidth) + string.Concat(nodes.Select(n => row.Read(n).PadLeft(width))));
        }
    }

    private static readonly Row[] Rows =
    [
        new("requests", null),
        new("per second (last 5 s)", s => s.Sum("kv.requests.rate").ToString("0.0", CultureInfo.InvariantCulture)),
        new("latency p50 / p99 ms", s => $"{Ms(s.Sum("kv.request.latency.p50"))} / {Ms(s.Sum("kv.request.latency.p99"))}"),
        new("get / exists", s => $"{Count(s, "kv.requests", "op=get")} / {Count(s, "kv.requests", "op=exists")}"),
        new("put / delete / update", s => $"{Count(s, "kv.requests", "op=put")} / {Count(s, "kv.requests", "op=delete")} / {Count(s, "kv.requests", "op=update")}"),
        new("not found", s => Count(s, "kv.requests", "outcome=not_found")),
        new("quorum failures", s => Count(s, "kv.quorum.failures")),
        new("refused / errors", s => $"{Number(s.Sum("kv.requests.refused") + s.Sum("kv.requests", "outcome=refused"))} / {Count(s, "kv.requests", "outcome=error")}"),
        new("forwarded", s => Count(s, "kv.requests.forwarded")),
        new("read repairs", s => Count(s, "kv.read_repairs")),
        new("hints", null),
        new("held (count / bytes)", s => $"{Count(s, "kv.hints.pending")} / {Bytes(s.Sum("kv.hints.pending.size"))}"),
        new("queued / delivered", s => $"{Count(s, "kv.hints.queued")} / {Count(s, "kv.hints.delivered")}"),
        new("dropped", s => Count(s, "kv.hints.dropped")),
        new("anti-entropy and handoff", null),
        new("exchanges (failed)", s => $"{Count(s, "kv.aae.exchanges")} ({Count(s, "kv.aae.exchanges", "outcome=failed")})"),
        new("keys repaired", s => Count(s, "kv.aae.keys_repaired")),
        new("handoffs done", s => Count(s, "kv.handoff.partitions")),
        new("handed off keys / bytes", s => $"{Count(s, "kv.handoff.keys")} / {Bytes(s.Sum("kv.handoff.size"))}"),
        new("storage", null),
        new("engines", s => Count(s, "kv.storage.engines")),
        new("memtables", s => Bytes(s.Sum("kv.storage.memtable.size"))),
        new("tables on disk", s => Bytes(s.Sum("kv.storage.tables.size"))),
        new("flushes / compactions", s => $"{Count(s, "kv.storage.flushes")} / {Count(s, "kv.storage.compactions")}"),
        new("write stalls / slowdowns", s => $"{Count(s, "kv.storage.write_stalls")} / {Count(s, "kv.storage.write_slowdowns")}"),
        new("block cache hit ratio", s => (100 * s.Sum("kv.storage.block_cache.hit_ratio")).ToString("0.0", CultureInfo.InvariantCulture) + " %"),
        new("commit-log syncs", s => Count(s, "kv.storage.commitlog.syncs")),
        new("cluster (this node's view)", null),
        new("members up / all", s => $"{Count(s, "kv.cluster.members", "status=Up")} / {Count(s, "kv.cluster.members")}"),
        new("unreachable", s => Count(s, "kv.cluster.unreachable")),
        new("vnodes", s => Count(s, "kv.vnodes")),
        new("mailbox depth max / total", s => $"{Count(s, "kv.vnode.mailbox.depth", "stat=max")} / {Count(s, "kv.vnode.mailbox.depth", "stat=total")}"),
    ];

    private static string Count(MetricsSnapshot s, string name, params string[] labels) => Number(s.Sum(name, labels));

    private static string Number(double v) => v == Math.Floor(v) && Math.Abs(v) < 1e15
        ? ((long)v).ToString(CultureInfo.InvariantCulture)
        : v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Ms(double v) => v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    private static string Bytes(double v)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        int i = 0;
        while (v >= 1024 && i < units.Length - 1)
        {
            v /= 1024;
            i++;
        }
        return i == 0 ? Number(v) + " B" : v.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[i];
    }

    private static string Short(string address)
    {
        int at = address.LastIndexOf('@');
        return at >= 0 ? address[(at + 1)..] : address;
    }
}
