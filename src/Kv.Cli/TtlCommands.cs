using System.Globalization;
using Kv.Actors;
using Kv.Actors.Objects;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv exists` and `kv ttl`, and the `--ttl` option of `kv put`.</summary>
public static class TtlCommands
{
    /// <summary>`kv exists NS KEY`: prints yes (exit 0) or no (exit 1).</summary>
    public static async Task<int> ExistsAsync(ClientSettings c, string ns, string key, TextWriter stdout)
    {
        await using var client = await KvClient.ConnectAsync(c.Options).ConfigureAwait(false);
        bool exists = await client.ExistsAsync(ns, key, c.Request).ConfigureAwait(false);
        stdout.WriteLine(exists ? "yes" : "no");
        return exists ? ExitCodes.Ok : ExitCodes.NotFound;
    }

    /// <summary>`kv ttl NS KEY`: time left per value; exit 1 if not found.</summary>
    public static async Task<int> TtlAsync(ClientSettings c, string ns, string key, TextWriter stdout, TextWriter stderr)
    {
        await using var client = await KvClient.ConnectAsync(c.Options).ConfigureAwait(false);
        var ttl = await client.TtlAsync(ns, key, c.Request).ConfigureAwait(false);
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

    /// <summary>Time left as seconds with milliseconds (12.345s), or "none" for a value without a TTL.</summary>
    public static string Format(TimeSpan? left) =>
        left is { } l ? (l.Ticks / TimeSpan.TicksPerMillisecond / 1000.0).ToString("0.000", CultureInfo.InvariantCulture) + "s" : "none";

    /// <summary>The --ttl option (null when absent): a duration such as 30s, 1ms..3650d; anything else is a usage error.</summary>
    public static TimeSpan? Ttl(CliArgs a)
    {
        string? v = a.Option("ttl");
        return v is null ? null : ParseTtl(v, out var ttl) is { } error ? throw new CliException(error) : ttl;
    }

    /// <summary>A --ttl value (1ms..3650d): null and the duration, or the error message.</summary>
    public static string? ParseTtl(string text, out TimeSpan ttl)
    {
        if (!Units.TryParseDuration(text, out ttl))
            return $"--ttl needs a duration such as 30s, 5m or 2d, not '{text}'";
        return Expiry.Check(ttl) is { } why ? "--ttl: " + why : null;
    }
}
