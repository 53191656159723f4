namespace Kv.Chaos.Nemeses;

/// <summary>SIGSTOP one or more nodes (a long GC pause, a stuck VM; never more than a minority); heal sends SIGCONT.</summary>
public sealed class PauseNemesis(NemesisContext context) : INemesis
{
    private readonly List<NodeProcess> _paused = [];

    public string Name => "pause";

    public int Actions { get; private set; }

    public Task<string> StartAsync(CancellationToken ct)
    {
        var victims = context.ShuffledRunning().Take(context.HowMany()).ToList();
        foreach (var node in victims)
        {
            node.Pause();
            _paused.Add(node);
            Actions++;
        }
        return Task.FromResult("paused " + string.Join(", ", victims.Select(n => n.Name)));
    }

    public Task<string> HealAsync(CancellationToken ct)
    {
        var resumed = _paused.ToList();
        if (resumed.Count == 0)
            return Task.FromResult("no node paused");
        foreach (var node in resumed)
            node.Resume();
        _paused.Clear();
        return Task.FromResult("resumed " + string.Join(", ", resumed.Select(n => n.Name)));
    }

    public Task<string> HealAllAsync(CancellationToken ct) => HealAsync(ct);
}
