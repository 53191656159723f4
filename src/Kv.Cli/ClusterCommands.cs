using System.Globalization;
using Kv.Actors.Admin;
using Kv.Actors.Vnode;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv cluster status|ring|transfers|hints|aae|leave|down`.</summary>
public static class ClusterCommands
{
    /// <summary>`kv cluster status`: members, reachability, partitions owned, warnings (a table on a terminal).</summary>
    public static async Task<int> StatusAsync(KvClientOptions options, CliOutput o)
    {
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var status = await client.GetClusterStatusAsync().ConfigureAwait(false);
        if (o.Rich is { } console)
            ClusterTables.RenderStatus(status, console);
        else
            PrintStatus(status, o.Stdout);
        return ExitCodes.Ok;
    }

    /// <summary>`kv cluster ring`: partition -&gt; owner (-&gt; pending owner); on a terminal a compact table of partition ranges.</summary>
    public static async Task<int> RingAsync(KvClientOptions options, CliOutput o)
    {
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var status = await client.GetClusterStatusAsync().ConfigureAwait(false);
        if (status.Ring is null)
        {
            o.Stderr.WriteLine("no ring yet: the cluster has not finished forming");
            return ExitCodes.Unavailable;
        }
        if (o.Rich is { } console)
            ClusterTables.RenderRing(status.Ring, console);
        else
            PrintRing(status.Ring, o.Stdout);
        return ExitCodes.Ok;
    }

    /// <summary>The plain ring: a summary line, then PARTITION&lt;TAB&gt;OWNER[&lt;TAB&gt;-&gt; PENDING] per partition.</summary>
    public static void PrintRing(Kv.Actors.Ring.Ring ring, TextWriter stdout)
    {
        stdout.WriteLine($"ring v{ring.Version}: {ring.Size} partitions, {ring.Members.Count} nodes, {ring.Transfers.Count()} transfers pending");
        for (int p = 0; p < ring.Size; p++)
        {
            string pending = ring.Pending[p] == ring.Owners[p] ? "" : $"\t-> {ring.Pending[p]}";
            stdout.WriteLine($"{p.ToString(CultureInfo.InvariantCulture),4}\t{ring.Owners[p]}{pending}");
        }
    }

    /// <summary>`kv cluster transfers [--watch]`: handoff progress; --watch polls each second until none are left (progress bars on a terminal).</summary>
    public static async Task<int> TransfersAsync(KvClientOptions options, bool watch, CliOutput o)
    {
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        if (o.Rich is { } console)
        {
            if (watch)
                await ClusterTables.WatchTransfersAsync(client, console).ConfigureAwait(false);
            else
                ClusterTables.RenderTransfers(await client.GetTransfersAsync().ConfigureAwait(false), await client.GetClusterStatusAsync().ConfigureAwait(false), console);
            return ExitCodes.Ok;
        }
        while (true)
        {
            var transfers = await client.GetTransfersAsync().ConfigureAwait(false);
            var status = await client.GetClusterStatusAsync().ConfigureAwait(false);
            int active = PrintTransfers(transfers, status, o.Stdout);
            if (!watch || (active == 0 && (status.Ring?.Settled ?? false)))
                return ExitCodes.Ok;
            await Task.Delay(1000).ConfigureAwait(false);
            o.Stdout.WriteLine();
        }
    }

    /// <summary>`kv cluster hints`.</summary>
    public static async Task<int> HintsAsync(KvClientOptions options, TextWriter stdout)
    {
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        PrintHints(await client.GetHintsAsync().ConfigureAwait(false), stdout);
        return ExitCodes.Ok;
    }

    /// <summary>`kv cluster aae`.</summary>
    public static async Task<int> AaeAsync(KvClientOptions options, TextWriter stdout)
    {
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        PrintAae(await client.GetAaeAsync().ConfigureAwait(false), stdout);
        return ExitCodes.Ok;
    }

    /// <summary>`kv cluster leave NODE [--wait]` (leave true) or `kv cluster down NODE`.</summary>
    public static async Task<int> MembershipAsync(KvClientOptions options, bool leave, string node, bool wait, TextWriter stdout, TextWriter stderr)
    {
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var reply = leave ? await client.LeaveAsync(node).ConfigureAwait(false) : await client.DownAsync(node).ConfigureAwait(false);
        (reply.Ok ? stdout : stderr).WriteLine(reply.Message);
        if (!reply.Ok)
            return ExitCodes.Refused;
        if (wait)
            await WaitGone(client, node, stdout).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static async Task WaitGone(KvClient client, string node, TextWriter stdout)
    {
        while (true)
        {
            var status = await client.GetClusterStatusAsync().ConfigureAwait(false);
            var member = status.Members.FirstOrDefault(m => m.Address == node || m.Address.EndsWith("@" + node, StringComparison.Ordinal));
            if (member is null)
            {
                stdout.WriteLine($"{node} has left the cluster");
                return;
            }
            int owned = status.Ring?.Owners.Count(o => o == member.Address) ?? 0;
            stdout.WriteLine($"{member.Address} {member.Status}: owns {owned} partitions, {status.Ring?.Transfers.Count() ?? 0} transfers pending");
            await Task.Delay(1000).ConfigureAwait(false);
        }
    }

    public static void PrintStatus(ClusterStatus status, TextWriter stdout)
    {
        var ring = status.Ring;
        stdout.WriteLine($"{"member",-32} {"status",-8} {"reachable",-9} {"owns",5} {"pending",7}");
        foreach (var m in status.Members)
        {
            int owns = ring?.Owners.Count(o => o == m.Address) ?? 0;
            int pending = ring?.Pending.Count(o => o == m.Address) ?? 0;
            string leader = m.Address == status.Leader ? " (leader)" : "";
            stdout.WriteLine($"{m.Address,-32} {m.Status,-8} {(m.Reachable ? "yes" : "NO"),-9} {owns,5} {pending,7}{leader}");
        }
        stdout.WriteLine(ring is null
            ? "ring: none yet"
            : $"ring: v{ring.Version}, {ring.Size} partitions, {(ring.Settled ? "settled" : $"{ring.Transfers.Count()} transfers pending")}; convergence: {(status.Convergence ? "yes" : "no")}");
        foreach (string warning in Warnings(status))
            stdout.WriteLine("warning: " + warning);
    }

    public static IEnumerable<string> Warnings(ClusterStatus status)
    {
        var ring = status.Ring;
        if (!status.Serving)
            yield return $"{status.Self} (the node asked) does not serve requests yet: it is not an Up member, or has not had the cluster's ring since it became one";
        foreach (var m in status.Members.Where(m => !m.Reachable))
            yield return $"{m.Address} is unreachable";
        if (ring is null)
            yield break;
        int n = status.DefaultNVal;
        if (n > 1 && ring.ReplicasShareNodes(Math.Min(n, ring.Size)))
        {
            int nodes = ring.Members.Count;
            yield return nodes < n
                ? $"replicas share nodes: n_val {n} but only {nodes} node(s) in the ring; losing one node can lose several replicas of a key"
                : $"replicas share nodes: some {n} consecutive partitions have fewer than {n} distinct owners";
        }
        foreach (var m in status.Members.Where(m => m.Status == "Up" && !ring.Members.Contains(m.Address)))
            yield return $"{m.Address} is Up but owns no partitions yet";
    }

    /// <summary>Per holder and target: hints held, bytes, the oldest's age, state, dropped and delivered so far.</summary>
    public static void PrintHints(Kv.Actors.Hints.ClusterHints hints, TextWriter stdout)
    {
        stdout.WriteLine($"{"holder",-32} {"target",-32} {"hints",7} {"bytes",10} {"oldest",8} {"state",-13} {"dropped",7} {"delivered",9}");
        long total = 0;
        foreach (var node in hints.Nodes)
        {
            if (node.Status is null)
            {
                stdout.WriteLine($"{node.Node,-32} {node.Error}");
                continue;
            }
            foreach (var t in node.Status.Targets)
            {
                total += t.Count;
                string age = t.Count == 0 ? "-" : TimeSpan.FromMilliseconds(t.OldestAgeMs).TotalSeconds < 60 ? $"{t.OldestAgeMs / 1000}s" : $"{t.OldestAgeMs / 60_000}m";
                stdout.WriteLine($"{node.Node,-32} {t.Target,-32} {t.Count,7} {t.Bytes,10} {age,8} {t.State,-13} {t.Dropped,7} {t.Delivered,9}");
            }
        }
        stdout.WriteLine(total == 0 ? "no hints held" : $"{total} hints held");
    }

    /// <summary>Per node: each vnode's trees (age, keys), then the last exchange of each pair it starts (age, keys repaired, outcome).</summary>
    public static void PrintAae(Kv.Actors.Aae.ClusterAae aae, TextWriter stdout)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        static string Age(long ms) => ms < 120_000 ? $"{ms / 1000}s" : ms < 7_200_000 ? $"{ms / 60_000}m" : $"{ms / 3_600_000}h";
        long repaired = 0;
        int exchanges = 0;
        foreach (var node in aae.Nodes)
        {
            if (node.Status is null)
            {
                stdout.WriteLine($"{node.Node}: {node.Error}");
                continue;
            }
            var trees = node.Status.Trees;
            stdout.WriteLine($"{node.Node}: {trees.Count(t => t.BuiltMs > 0)} of {trees.Count} vnodes with trees built, {trees.Count(t => t.Building)} building");
            foreach (var t in trees)
                stdout.WriteLine($"  tree  partition {t.Partition,4}: {(t.BuiltMs > 0 ? "built " + Age(now - t.BuiltMs) + " ago" : "not built"),-18} {t.Keys,8} keys{(t.Building ? ", building" : "")}");
            foreach (var e in node.Status.Exchanges)
            {
                exchanges++;
                repaired += e.TotalRepaired;
                stdout.WriteLine($"  exchange {e.Partition,4} <-> {e.PeerPartition,4} on {e.PeerNode} (list {e.Pref}, n {e.N}): {Age(now - e.EndedMs)} ago, {e.KeysRepaired} repaired ({e.TotalRepaired} in all): {e.Outcome}");
            }
        }
        stdout.WriteLine($"{exchanges} pairs exchanged; {repaired} keys repaired since the nodes started");
    }

    public static int PrintTransfers(ClusterTransfers transfers, ClusterStatus status, TextWriter stdout)
    {
        int active = 0;
        foreach (var node in transfers.Nodes)
        {
            if (node.Status is null)
            {
                stdout.WriteLine($"{node.Node}: {node.Error}");
                continue;
            }
            var live = node.Status.Transfers.Where(t => t.State is not HandoffState.Done).ToList();
            active += live.Count;
            stdout.WriteLine($"{node.Node}: {node.Status.Vnodes.Count} vnodes, {live.Count} transfers in progress");
            foreach (var t in live)
            {
                stdout.WriteLine($"  partition {t.Partition,4} -> {t.Target}: {t.State}, {t.Keys} keys, {t.Bytes / 1024.0:0.0} KiB"
                    + (t.LastError is null ? "" : $", last error: {t.LastError}"));
            }
        }
        var ring = status.Ring;
        stdout.WriteLine(ring is null ? "ring: none yet" : $"ring v{ring.Version}: {ring.Transfers.Count()} partitions still to move");
        return active;
    }
}
