namespace Kv.Chaos.Nemeses;

/// <summary>SIGKILL one or more nodes (never more than a minority); heal restarts them on the same data directory.</summary>
public sealed class KillNemesis(NemesisContext context) : INemesis
{
    private static readonly TimeSpan RejoinWait = TimeSpan.FromSeconds(30);
    private readonly List<NodeProcess> _killed = [];

    public string Name => "kill";

    public int Actions { get; private set; }

    public async Task<string> StartAsync(CancellationToken ct)
    {
        var victims = context.ShuffledRunning().Take(context.HowMany()).ToList();
        foreach (var node in victims)
        {
            await node.KillAsync().ConfigureAwait(false);
            _killed.Add(node);
            Actions++;
        }
        return "killed " + string.Join(", ", victims.Select(n => n.Name));
    }

    public async Task<string> HealAsync(CancellationToken ct)
    {
        var restarted = _killed.ToList();
        if (restarted.Count == 0)
            return "no node killed";
        foreach (var node in restarted)
            node.Start();
        _killed.Clear();
        // Back before the next fault: a node still joining is as good as down, and the next kill
        // would otherwise take down more than a minority.
        var parts = new List<string>();
        foreach (var node in restarted)
        {
            bool up = await ClusterUnderTest.WaitUpAsync(context.Control, node, RejoinWait).ConfigureAwait(false);
            parts.Add($"{node.Name} (pid {node.Pid}{(up ? ", Up" : $", not Up after {RejoinWait.TotalSeconds:0} s")})");
        }
        return "restarted " + string.Join(", ", parts);
    }

    public Task<string> HealAllAsync(CancellationToken ct) => HealAsync(ct);
}
