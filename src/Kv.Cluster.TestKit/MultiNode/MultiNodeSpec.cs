using Kv.Cluster.Actor;
using Kv.Cluster.Remote;

namespace Kv.Cluster.TestKit.MultiNode;

/// <summary>
/// A spec that runs as one OS process per role (Akka's multi-node test kit). <see cref="RunAsync"/>
/// runs in every role's process; use <c>RunOn</c> for role-specific parts and <c>EnterBarrier</c>
/// to keep the roles in step. A restarted role runs <see cref="RunAsync"/> again with
/// <see cref="MultiNodeContext.Incarnation"/> above 1.
/// </summary>
public abstract class MultiNodeSpec
{
    /// <summary>Role names, e.g. ["first", "second"].</summary>
    public abstract IReadOnlyList<string> Roles { get; }

    /// <summary>The actor system name every role uses.</summary>
    public virtual string SystemName => GetType().Name;

    /// <summary>Whole-spec deadline (all processes must have exited by then).</summary>
    public virtual TimeSpan Timeout => TimeSpan.FromMinutes(2);

    /// <summary>Barrier deadline, counted from the first role to arrive.</summary>
    public virtual TimeSpan BarrierTimeout => TimeSpan.FromSeconds(30);

    /// <summary>Options of a role's system; remoting on the role's port is filled in by the harness.</summary>
    public virtual ActorSystemOptions NodeOptions(string role) => new();

    /// <summary>Remote options of a role (the harness sets the port).</summary>
    public virtual RemoteOptions RemoteOptions(string role) => TestKit.FastRemote();

    /// <summary>The body, run in every role's process.</summary>
    public abstract Task RunAsync(MultiNodeContext context);
}
