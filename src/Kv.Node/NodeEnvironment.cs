using System.Diagnostics;

namespace Kv.Node;

/// <summary>
/// Runtime settings a node process is started with by our launchers (`kv dev start`, the
/// benchmark's local cluster, `dotnet run` through launchSettings.json). They must be in the
/// environment before the runtime starts: the GC reads them at start-up and has no
/// runtimeconfig.json name for them. A value already in the environment wins.
/// </summary>
public static class NodeEnvironment
{
    /// <summary>
    /// A 256 MiB gen0 budget (per server-GC heap). The GC sizes gen0 from the CPU's cache sizes;
    /// where the machine does not report them (virtual machines often do not, this one included) it
    /// falls back to a small budget, and a busy node then spends a fifth of its CPU in gen0
    /// collections and page faults (YCSB C on 3 local nodes: 14.6K -> 18.3K ops/s with 64 MiB). What
    /// survives a gen0 collection is the requests in flight (in interval sync mode, writes waiting
    /// for the next fsync), about the same whatever the budget: a larger one makes the pauses rarer,
    /// not longer (one node's RESP SETs: ~46K -> ~52K/s from 64 to 256 MiB, at ~0.85 GB resident
    /// under that load; 512 MiB gave no more).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Variables = new Dictionary<string, string>
    {
        ["DOTNET_GCgen0size"] = "0x10000000",
    };

    /// <summary>Adds <see cref="Variables"/> to a process about to start, unless already set.</summary>
    public static void Apply(ProcessStartInfo psi)
    {
        foreach (var (name, value) in Variables)
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))
                psi.Environment[name] = value;
        }
    }
}
