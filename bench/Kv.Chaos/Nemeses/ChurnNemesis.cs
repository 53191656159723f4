namespace Kv.Chaos.Nemeses;

/// <summary>
/// Ownership handoff under load: a spare node starts with a fresh data directory and joins, and a
/// running member leaves gracefully (hands its partitions off, then exits). Heal waits for the
/// leaving node to exit; it becomes the next spare (a fresh node again if it joins later).
/// </summary>
public sealed class ChurnNemesis(NemesisContext context) : INemesis
{
    private static readonly TimeSpan HealWait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan FinalWait = TimeSpan.FromSeconds(90);
    private readonly List<NodeProcess> _leaving = [];

    public string Name => "churn";

    public int Actions { get; private set; }

    public async Task<string> StartAsync(CancellationToken ct)
    {
        var spare = context.Cluster.Spares.FirstOrDefault();
        var leaver = context.ShuffledRunning().FirstOrDefault();
        if (spare is null || leaver is null || _leaving.Count > 0)
            return "no churn: " + (spare is null ? "no spare node" : leaver is null ? "no running node" : "a node is still leaving");
        spare.Start();
        string left;
        try
        {
            var reply = await context.Control.LeaveAsync(leaver.Endpoint).ConfigureAwait(false);
            if (reply.Ok)
            {
                leaver.State = NodeState.Leaving;
                _leaving.Add(leaver);
                Actions++;
            }
            left = reply.Ok ? $"{leaver.Name} leaves ({reply.Message})" : $"{leaver.Name} refused to leave: {reply.Message}";
        }
        catch (Exception e) when (e is Kv.Client.KvException or Akka.Actor.AskTimeoutException)
        {
            left = $"{leaver.Name} leave request failed: {e.Message}";
        }
        return $"{spare.Name} joins (pid {spare.Pid}); {left}";
    }

    public Task<string> HealAsync(CancellationToken ct) => WaitForLeaversAsync(HealWait);

    public Task<string> HealAllAsync(CancellationToken ct) => WaitForLeaversAsync(FinalWait);

    private async Task<string> WaitForLeaversAsync(TimeSpan wait)
    {
        if (_leaving.Count == 0)
            return "no node leaving";
        var parts = new List<string>();
        foreach (var node in _leaving.ToList())
        {
            if (await node.WaitForExitAsync(wait).ConfigureAwait(false))
            {
                node.State = NodeState.Stopped;
                node.FreshData();
                _leaving.Remove(node);
                parts.Add($"{node.Name} left and exited");
            }
            else
            {
                parts.Add($"{node.Name} still leaving after {wait.TotalSeconds:0} s");
            }
        }
        return string.Join("; ", parts);
    }
}
