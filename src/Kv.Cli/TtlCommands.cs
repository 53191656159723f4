using System.Globalization;
using Kv.Actors;
using Kv.Actors.Objects;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv exists` and `kv ttl`, and the `--ttl` option of `kv put`.</summary>
public static class TtlCommands
{
    public static async Task<int> RunAsync(string verb, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args);
        var options = ClientArgs.Options(a);
        var request = ClientArgs.Request(a);
        if (a.Positional.Count < 2)
            throw new CliException($"usage: kv {verb} NAMESPACE KEY");
        string ns = a.Positional[0];
        string key = a.Positional[1];
        a.Done(2);
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        switch (verb)
        {
            case "exists":
            {
                bool exists = await client.ExistsAsync(ns, key, request).ConfigureAwait(false);
                stdout.WriteLine(exists ? "yes" : "no");
                return exists ? ExitCodes.Ok : ExitCodes.NotFound;
            }
            case "ttl":
            {
                var ttl = await client.TtlAsync(ns, key, request).ConfigureAwait(false);
                if (!ttl.Found)
                {
                    stderr.WriteLine($"not found: {ns}/{key}");
                    return ExitCodes.NotFound;
                }
                foreach (var left in ttl.Left)
                    stdout.WriteLine(Format(left));
                if (ttl.Left.Count > 1)
                    stderr.WriteLine($"{ttl.Left.Count} siblings: one line per value");
                return ExitCodes.Ok;
            }
            default:
                throw new CliException($"unknown command '{verb}'");
        }
    }

    /// <summary>Time left as seconds with milliseconds (12.345s), or "none" for a value without a TTL.</summary>
    public static string Format(TimeSpan? left) =>
        left is { } l ? (l.Ticks / TimeSpan.TicksPerMillisecond / 1000.0).ToString("0.000", CultureInfo.InvariantCulture) + "s" : "none";

    /// <summary>The --ttl option (null when absent): a duration such as 30s, 1ms..3650d; anything else is a usage error.</summary>
    public static TimeSpan? Ttl(CliArgs a)
    {
        string? v = a.Option("ttl");
        if (v is null)
            return null;
        if (!Units.TryParseDuration(v, out var ttl))
            throw new CliException($"--ttl needs a duration such as 30s, 5m or 2d, not '{v}'");
        return Expiry.Check(ttl) is { } why ? throw new CliException("--ttl: " + why) : ttl;
    }
}
