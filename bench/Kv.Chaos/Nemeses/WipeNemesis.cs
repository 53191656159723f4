namespace Kv.Chaos.Nemeses;

/// <summary>
/// SIGKILL one node, delete its data directory (vnodes, commit log, ring, hints: a lost disk), and
/// heal by starting it again empty at the same address. Its vnodes start empty on partitions the
/// ring already gives it and fill themselves from their neighbours; until then their not-founds do
/// not count. One node at a time, and never the first seed (with no stored ring it could not tell
/// that a cluster exists and, unanswered within seed-node-timeout, would form a second one).
/// </summary>
public sealed class WipeNemesis(NemesisContext context) : INemesis
{
    private static readonly TimeSpan RejoinWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FillWait = TimeSpan.FromSeconds(5);
    private NodeProcess? _wiped;

    public string Name => "wipe";

    public int Actions { get; private set; }

    public async Task<string> StartAsync(CancellationToken ct)
    {
        var victim = context.ShuffledRunning().FirstOrDefault(n => n.Name != "node1");
        if (victim is null)
            return "no node to wipe";
        await victim.KillAsync().ConfigureAwait(false);
        Directory.Delete(victim.DataDirectory, recursive: true);
        _wiped = victim;
        Actions++;
        return $"killed {victim.Name} and deleted its data directory";
    }

    public async Task<string> HealAsync(CancellationToken ct)
    {
        if (_wiped is not { } node)
            return "no node wiped";
        _wiped = null;
        node.Start();
        bool up = await ClusterUnderTest.WaitUpAsync(context.Control, node, RejoinWait).ConfigureAwait(false);
        // Time for its vnodes to fill before the next fault may take another replica away.
        await Task.Delay(FillWait, ct).ConfigureAwait(false);
        return $"restarted {node.Name} empty (pid {node.Pid}{(up ? ", Up" : $", not Up after {RejoinWait.TotalSeconds:0} s")})";
    }

    public Task<string> HealAllAsync(CancellationToken ct) => HealAsync(ct);
}
