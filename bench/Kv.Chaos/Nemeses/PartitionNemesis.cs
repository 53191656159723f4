using Kv.Actors.Admin;

namespace Kv.Chaos.Nemeses;

/// <summary>
/// Cuts node-to-node traffic both ways between two sides, through each node's fault rules
/// (<see cref="ChaosSetFaults"/>, accepted because the nodes run with kv.chaos.enabled = on).
/// Patterns: majority/minority halves, and a bridge where one node sees both sides, which do not
/// see each other. Clients reach every node throughout. Heal clears every node's rules.
/// </summary>
public sealed class PartitionNemesis(NemesisContext context) : INemesis
{
    public string Name => "partition";

    public int Actions { get; private set; }

    public async Task<string> StartAsync(CancellationToken ct)
    {
        var nodes = context.ShuffledRunning();
        if (nodes.Count < 2)
            return "not enough running nodes to partition";
        bool bridge = nodes.Count >= 3 && context.Random.Next(2) == 0;
        List<NodeProcess> a, b;
        NodeProcess? middle = null;
        if (bridge)
        {
            middle = nodes[0];
            int half = (nodes.Count - 1) / 2;
            a = nodes.Skip(1).Take(half).ToList();
            b = nodes.Skip(1 + half).ToList();
        }
        else
        {
            int minority = (nodes.Count - 1) / 2;
            a = nodes.Take(Math.Max(1, minority)).ToList();
            b = nodes.Skip(a.Count).ToList();
        }
        var failures = new List<string>();
        foreach (var node in a)
            await SetAsync(node, b, failures).ConfigureAwait(false);
        foreach (var node in b)
            await SetAsync(node, a, failures).ConfigureAwait(false);
        if (middle is not null)
            await SetAsync(middle, [], failures).ConfigureAwait(false);
        string what = bridge
            ? $"bridge: [{Names(a)}] <-> {middle!.Name} <-> [{Names(b)}]"
            : $"halves: [{Names(a)}] | [{Names(b)}]";
        if (failures.Count > 0)
            throw new InvalidOperationException(what + " not applied on: " + string.Join("; ", failures)); // healed with the rest; not counted
        Actions++;
        return what;
    }

    public async Task<string> HealAsync(CancellationToken ct)
    {
        var failures = new List<string>();
        foreach (var node in context.Cluster.Members.Where(n => n.State == NodeState.Running))
            await SetAsync(node, [], failures).ConfigureAwait(false);
        return failures.Count == 0 ? "healed every node" : "healed, except: " + string.Join("; ", failures);
    }

    public Task<string> HealAllAsync(CancellationToken ct) => HealAsync(ct);

    private static string Names(IEnumerable<NodeProcess> nodes) => string.Join(", ", nodes.Select(n => n.Name));

    /// <summary>Tells <paramref name="node"/> to block <paramref name="blocked"/> (empty: none), retrying a few times.</summary>
    private async Task SetAsync(NodeProcess node, IReadOnlyList<NodeProcess> blocked, List<string> failures)
    {
        string? error = null;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                var reply = await context.Control.ChaosSetFaultsAsync(node.Endpoint, blocked.Select(n => n.Address).ToList()).ConfigureAwait(false);
                if (reply.Ok)
                    return;
                error = reply.Message;
                break; // refused: retrying will not help
            }
            catch (Exception e) when (e is Akka.Actor.AskTimeoutException or Kv.Client.KvException)
            {
                error = e.Message;
                await Task.Delay(200).ConfigureAwait(false);
            }
        }
        failures.Add($"{node.Name}: {error}");
        context.Log.WriteLine($"partition: {node.Name} did not take its rules: {error}");
    }
}
