using Akka.Configuration;

namespace Kv.MultiProcess;

/// <summary>
/// A spec that runs as one OS process per role (as Akka's multi-node test kit does, on Akka.NET actor systems). <see cref="RunAsync"/>
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

    /// <summary>
    /// The Akka configuration of a role's system. The harness puts over it remoting on 127.0.0.1 at
    /// the role's port with Akka.Remote's throttler adapter applied (for Blackhole, PassThrough and
    /// Throttle; addresses are then akka.trttl.tcp://), and under it <c>akka.actor.provider = remote</c>.
    /// </summary>
    public virtual Config RoleConfig(string role) => Config.Empty;

    /// <summary>The body, run in every role's process.</summary>
    public abstract Task RunAsync(MultiNodeContext context);
}
