using System.Globalization;
using System.Text;
using Kv.Actors.Scans;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv scan NS [--prefix P | --start A --end B] [--limit N] [--after TOKEN] [--r N]`: one page of keys.</summary>
public static class ScanCommands
{
    public const string Usage = "usage: kv scan NAMESPACE [--prefix P | --start A --end B] [--limit N] [--after TOKEN] [--r N] [--timeout 30s]";

    /// <summary>One page of keys in key order: KEY&lt;TAB&gt;VALUE per sibling; the next page's token on stderr.</summary>
    public static async Task<int> ScanAsync(ClientSettings c, string ns, string? prefix, string? start, string? end, int? limitOption, string? after,
        TextWriter stdout, TextWriter stderr)
    {
        var (options, request) = (c.Options, c.Request);
        if (prefix is not null && (start is not null || end is not null))
            throw new CliException("--prefix cannot be combined with --start/--end");
        int limit = limitOption ?? ScanLimits.DefaultLimit;
        if (limit is < 1 or > ScanLimits.MaxLimit)
            throw new CliException($"--limit needs a whole number 1..{ScanLimits.MaxLimit}, not '{limit}'");
        var range = prefix is not null ? ScanRange.WithPrefix(prefix) : ScanRange.Between(start, end);
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var page = await client.ScanAsync(ns, range, limit, after, request).ConfigureAwait(false);
        foreach (var item in page.Items)
        {
            string key = Escaping.Escape(Encoding.UTF8.GetBytes(item.Key));
            // A data type's value in the plain form kv get prints, each line after the key.
            var plain = new StringWriter();
            if (DataTypeCommands.TryPrint(item, plain))
            {
                foreach (string line in plain.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    stdout.WriteLine($"{key}\t{line}");
                continue;
            }
            foreach (var value in item.Siblings)
                stdout.WriteLine($"{key}\t{Escaping.Escape(value.Value)}");
        }
        if (page.NextToken is not null)
            stderr.WriteLine(page.NextToken);
        return ExitCodes.Ok;
    }
}
