namespace Kv.Actors.Tests;

/// <summary>Entry point used only when the multi-node harness starts this assembly as a role's process.</summary>
public static class Program
{
    public static int Main(string[] args) => Kv.MultiProcess.MultiNodeProcess.Run(typeof(Program).Assembly, args);
}
