namespace Kv.Cluster.Actor;

/// <summary>Why a system shuts down; the node host turns <see cref="ExitCode"/> into its process exit code.</summary>
public sealed record ShutdownReason(string Name, int ExitCode)
{
    /// <summary>Someone called Terminate.</summary>
    public static readonly ShutdownReason ActorSystemTerminate = new("actor-system-terminate", 0);

    /// <summary>The process got SIGTERM / Ctrl-C.</summary>
    public static readonly ShutdownReason ProcessExit = new("process-exit", 0);

    /// <summary>The node left the cluster on request.</summary>
    public static readonly ShutdownReason ClusterLeaving = new("cluster-leaving", 0);

    /// <summary>The cluster downed this node (split-brain resolver or manual down).</summary>
    public static readonly ShutdownReason ClusterDowning = new("cluster-downing", 10);

    /// <summary>The node could not join the cluster.</summary>
    public static readonly ShutdownReason ClusterJoinUnsuccessful = new("cluster-join-unsuccessful", 11);

    /// <summary>Another incarnation replaced this one, or it was quarantined.</summary>
    public static readonly ShutdownReason Quarantined = new("quarantined", 12);

    /// <summary>Not given.</summary>
    public static readonly ShutdownReason Unknown = new("unknown", 1);
}
