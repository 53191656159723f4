namespace Kv.Chaos;

/// <summary>One campaign: which workload, which nemeses, how many nodes, for how long, how hard.</summary>
public sealed record CampaignOptions
{
    public static readonly IReadOnlyList<string> Workloads = ["register", "set", "delete", "ttl", "counter", "set-crdt", "cas-register", "consistent-counter"];
    public static readonly IReadOnlyList<string> NemesisNames = ["kill", "pause", "partition", "churn", "wipe"];

    /// <summary>One of <see cref="Workloads"/>.</summary>
    public string Workload { get; init; } = "register";

    /// <summary>Any of kill, pause, partition, churn, wipe (one fault at a time, picked at random from these).</summary>
    public IReadOnlyList<string> Nemeses { get; init; } = ["kill"];

    /// <summary>Nodes in the cluster (churn starts one more, the spare, during the run).</summary>
    public int Nodes { get; init; } = 5;

    /// <summary>Length of the workload phase (the nemesis acts during it).</summary>
    public TimeSpan Time { get; init; } = TimeSpan.FromSeconds(60);

    public int Seed { get; init; } = Environment.TickCount & 0x7fffffff;

    /// <summary>Operations per second over all clients (a target; each client paces itself).</summary>
    public double Rate { get; init; } = 100;

    /// <summary>Concurrent clients, each its own <see cref="Kv.Client.KvClient"/> connected to all nodes.</summary>
    public int Clients { get; init; } = 5;

    /// <summary>Replies every write waits for (w; dw is 2, or 1 at w=1). With sloppy quorum on, fallbacks count.</summary>
    public int W { get; init; } = 2;

    /// <summary>Run directory: node configs, data, logs, the history. Null: ./chaos-runs/&lt;time&gt;-&lt;seed&gt;.</summary>
    public string? Directory { get; init; }

    /// <summary>The Kv.Node.dll to start (null: the one next to this program).</summary>
    public string? NodeDll { get; init; }

    /// <summary>How long a fault lasts, and the healthy gap between faults (each drawn at random in the range).</summary>
    public (TimeSpan Min, TimeSpan Max) FaultDuration { get; init; } = (TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8));

    public (TimeSpan Min, TimeSpan Max) HealthyGap { get; init; } = (TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(6));

    /// <summary>Tombstone grace the nodes run with (short, so the delete checker can wait past it).</summary>
    public TimeSpan TombstoneGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Longest wait for the cluster to form, and to settle after healing.</summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Progress lines (null: none).</summary>
    public TextWriter? Log { get; init; }

    public string ResolveDirectory() =>
        Path.GetFullPath(Directory ?? Path.Combine("chaos-runs", $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Workload}-{string.Join('+', Nemeses)}-{Seed}"));

    /// <summary>Null when the options make sense, else what is wrong.</summary>
    public string? Problem()
    {
        if (!Workloads.Contains(Workload))
            return $"unknown workload '{Workload}' ({string.Join(", ", Workloads)})";
        if (Nemeses.Count == 0)
            return "--nemesis needs at least one of " + string.Join(", ", NemesisNames);
        foreach (string n in Nemeses)
        {
            if (!NemesisNames.Contains(n))
                return $"unknown nemesis '{n}' ({string.Join(", ", NemesisNames)})";
        }
        if (Nodes is not (3 or 5))
            return "--nodes must be 3 or 5";
        if (Time < TimeSpan.FromSeconds(1) || Time > TimeSpan.FromHours(2))
            return "--time must be 1..7200 seconds";
        if (Rate is < 1 or > 5000 || double.IsNaN(Rate))
            return "--rate must be 1..5000 operations per second";
        if (Clients is < 1 or > 64)
            return "--clients must be 1..64";
        if (W is < 1 or > 3)
            return "--w must be 1..3 (n_val is 3)";
        return null;
    }
}
