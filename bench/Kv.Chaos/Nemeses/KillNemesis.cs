namespace Kv.Chaos.Nemeses;

/// <summary>SIGKILL one or more nodes (never more than a minority); heal restarts them on the same data directory.</summary>
public sealed class KillNemesis(NemesisContext context) : INemesis
{
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

    public Task<string> HealAsync(CancellationToken ct)
    {
        var restarted = _killed.ToList();
        if (restarted.Count == 0)
            return Task.FromResult("no node killed");
        foreach (var node in restarted)
            node.Start();
        _killed.Clear();
        return Task.FromResult("restarted " + string.Join(", ", restarted.Select(n => $"{n.Name} (pid {n.Pid})")));
    }

    public Task<string> HealAllAsync(CancellationToken ct) => HealAsync(ct);
}
