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
    /// A 64 MiB gen0 budget. The GC sizes gen0 from the CPU's cache sizes; where the machine does
    /// not report them (virtual machines often do not, this one included) it falls back to a small
    /// budget, and a busy node then spends a fifth of its CPU in gen0 collections and page faults
    /// (YCSB C on 3 local nodes: 14.6K -> 18.3K ops/s with it).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Variables = new Dictionary<string, string>
    {
        ["DOTNET_GCgen0size"] = "0x4000000",
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
