using System.Text;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv cas` (consistent namespaces, docs/consistency.md).</summary>
public static class ConsistentCommands
{
    public const string Usage = "usage: kv cas NAMESPACE KEY NEW (--expect OLD | --expect-absent)";

    public static async Task<int> RunAsync(string verb, string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (verb != "cas")
            throw new CliException($"unknown command '{verb}'");
        var a = CliArgs.Parse(args, "expect-absent");
        var options = ClientArgs.Options(a);
        var request = ClientArgs.Request(a);
        if (a.Positional.Count < 3)
            throw new CliException(Usage);
        string ns = a.Positional[0];
        string key = a.Positional[1];
        byte[] newValue = Encoding.UTF8.GetBytes(a.Positional[2]);
        string? expect = a.Option("expect");
        bool expectAbsent = a.Flag("expect-absent");
        if ((expect is null) == !expectAbsent)
            throw new CliException("give exactly one of --expect OLD and --expect-absent; " + Usage);
        a.Done(3);
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var result = await client.CompareAndSwapAsync(ns, key, expect is null ? null : Encoding.UTF8.GetBytes(expect), newValue, request).ConfigureAwait(false);
        if (result.Succeeded)
        {
            stdout.WriteLine(Escaping.Escape(result.Current ?? newValue));
            return ExitCodes.Ok;
        }
        stdout.WriteLine(result.Current is null ? "(absent)" : Escaping.Escape(result.Current));
        stderr.WriteLine($"mismatch: {ns}/{key} does not hold the expected value (it was not changed)");
        return ExitCodes.CasMismatch;
    }
}
