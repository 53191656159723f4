using System.Globalization;
using System.Text;
using Kv.Actors.Scans;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv scan NS [--prefix P | --start A --end B] [--limit N] [--after TOKEN] [--r N]`: one page of keys.</summary>
public static class ScanCommands
{
    public const string Usage = "usage: kv scan NAMESPACE [--prefix P | --start A --end B] [--limit N] [--after TOKEN] [--r N] [--timeout 30s]";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args);
        var options = ClientArgs.Options(a);
        var request = new Kv.Actors.Coordinators.RequestOptions { R = ClientArgs.Quorum(a, "r"), Timeout = ClientArgs.Duration(a, "timeout") };
        if (a.Positional.Count < 1)
            throw new CliException(Usage);
        string ns = a.Positional[0];
        string? prefix = a.Option("prefix"), start = a.Option("start"), end = a.Option("end"), after = a.Option("after");
        string? limitText = a.Option("limit");
        a.Done(1);
        if (prefix is not null && (start is not null || end is not null))
            throw new CliException("--prefix cannot be combined with --start/--end");
        int limit = ScanLimits.DefaultLimit;
        if (limitText is not null && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > ScanLimits.MaxLimit))
            throw new CliException($"--limit needs a whole number 1..{ScanLimits.MaxLimit}, not '{limitText}'");
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
