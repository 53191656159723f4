using System.Globalization;
using System.Text;
using Kv.Actors.Coordinators;
using Kv.Client;

namespace Kv.Cli;

/// <summary>
/// `kv mget NS KEY...` and `kv mput NS` (KEY&lt;TAB&gt;VALUE[&lt;TAB&gt;CONTEXT] lines on stdin): batches
/// through the client library, one output block per key in input order. More keys than a batch
/// takes go as several batches, one after the other.
/// </summary>
public static class BatchCommands
{
    /// <summary>`kv mget NS KEY...`: per key KEY&lt;TAB&gt;CONTEXT&lt;TAB&gt;VALUE per sibling, (not found) or (error: ...).</summary>
    public static async Task<int> MGetAsync(ClientSettings c, string ns, IReadOnlyList<string> keys, TextWriter stdout, TextWriter stderr)
    {
        var (options, request) = (c.Options, c.Request);
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        int exit = ExitCodes.Ok;
        foreach (var chunk in keys.Chunk(BatchLimits.MaxKeys))
        {
            foreach (var outcome in await client.GetManyAsync(ns, chunk, request).ConfigureAwait(false))
            {
                string key = Escaping.Escape(Encoding.UTF8.GetBytes(outcome.Key));
                if (outcome.Error is { } error)
                {
                    stdout.WriteLine($"{key}\t(error: {OneLine(error.Message)})");
                    if (exit == ExitCodes.Ok)
                        exit = ExitCodeOf(error);
                    continue;
                }
                var obj = outcome.Result!;
                if (!obj.Found)
                {
                    stdout.WriteLine($"{key}\t(not found)");
                    continue;
                }
                string context = obj.Context.ToString();
                foreach (var value in obj.Siblings)
                    stdout.WriteLine($"{key}\t{context}\t{Escaping.Escape(value.Value)}");
            }
        }
        if (exit != ExitCodes.Ok)
            stderr.WriteLine("some keys failed (see the (error: ...) lines)");
        return exit;
    }

    /// <summary>`kv mput NS`: KEY&lt;TAB&gt;VALUE[&lt;TAB&gt;CONTEXT] lines from stdin, all checked before any is sent.</summary>
    public static async Task<int> MPutAsync(ClientSettings c, string ns, string? contentTypeOption, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var (options, request) = (c.Options, c.Request);
        string contentType = contentTypeOption ?? "text/plain; charset=utf-8";
        // Every line is checked before anything is sent: a bad line stores nothing.
        var items = new List<KvPutItem>();
        int lineNo = 0;
        while (await stdin.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lineNo++;
            if (line.Length == 0)
                continue;
            var fields = line.Split('\t');
            if (fields.Length is < 2 or > 3)
                throw new CliException($"line {lineNo}: expected KEY<TAB>VALUE or KEY<TAB>VALUE<TAB>CONTEXT, got {fields.Length} field(s); nothing was written");
            CausalContext? context = null;
            if (fields.Length == 3 && fields[2].Length > 0)
            {
                try
                {
                    context = CausalContext.Parse(fields[2]);
                }
                catch (FormatException e)
                {
                    throw new CliException($"line {lineNo}: bad context: {e.Message}; nothing was written");
                }
            }
            string key;
            byte[] value;
            try
            {
                key = Encoding.UTF8.GetString(Unescape(fields[0]));
                value = Unescape(fields[1]);
            }
            catch (FormatException e)
            {
                throw new CliException($"line {lineNo}: {e.Message}; nothing was written");
            }
            items.Add(new KvPutItem(key, value, context, contentType));
        }
        if (items.Count == 0)
            throw new CliException("kv mput: no KEY<TAB>VALUE lines on stdin");
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        int exit = ExitCodes.Ok;
        foreach (var chunk in items.Chunk(BatchLimits.MaxKeys))
        {
            foreach (var outcome in await client.PutManyAsync(ns, chunk, request).ConfigureAwait(false))
            {
                string key = Escaping.Escape(Encoding.UTF8.GetBytes(outcome.Key));
                if (outcome.Error is { } error)
                {
                    stdout.WriteLine($"{key}\t(error: {OneLine(error.Message)})");
                    if (exit == ExitCodes.Ok)
                        exit = ExitCodeOf(error);
                }
                else
                {
                    stdout.WriteLine($"{key}\t{outcome.Result!.Context}");
                }
            }
        }
        if (exit != ExitCodes.Ok)
            stderr.WriteLine("some keys failed (see the (error: ...) lines); the others were written");
        return exit;
    }

    private static string OneLine(string s) => s.Replace('\n', ' ').Replace('\t', ' ');

    /// <summary>The exit code a single request failing with <paramref name="e"/> gives.</summary>
    internal static int ExitCodeOf(KvException e) => e switch
    {
        QuorumNotMetException => ExitCodes.QuorumNotMet,
        KvTimeoutException or KvUnavailableException => ExitCodes.Unavailable,
        _ => ExitCodes.Refused,
    };

    /// <summary>The inverse of <see cref="Escaping.Escape"/>: \\, \t, \n and \xHH; any other byte as it is (UTF-8).</summary>
    public static byte[] Unescape(string s)
    {
        var bytes = new List<byte>(s.Length);
        var raw = Encoding.UTF8.GetBytes(s);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] != (byte)'\\')
            {
                bytes.Add(raw[i]);
                continue;
            }
            if (i + 1 >= raw.Length)
                throw new FormatException("a backslash at the end (write \\\\ for one)");
            switch ((char)raw[++i])
            {
                case '\\':
                    bytes.Add((byte)'\\');
                    break;
                case 't':
                    bytes.Add((byte)'\t');
                    break;
                case 'n':
                    bytes.Add((byte)'\n');
                    break;
                case 'x' when i + 2 < raw.Length && byte.TryParse(Encoding.ASCII.GetString(raw, i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte b):
                    bytes.Add(b);
                    i += 2;
                    break;
                default:
                    throw new FormatException($"unknown escape '\\{(char)raw[i]}' (known: \\\\ \\t \\n \\xHH)");
            }
        }
        return [.. bytes];
    }
}
