using System.Text;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv put|get|del`: data through the client library.</summary>
public static class DataCommands
{
    public static async Task<int> RunAsync(string verb, string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args, "raw");
        var options = ClientArgs.Options(a);
        var request = ClientArgs.Request(a);
        if (a.Positional.Count < 2)
            throw new CliException($"usage: kv {verb} NAMESPACE KEY" + (verb == "put" ? " [VALUE]  (no VALUE: read it from stdin)" : ""));
        string ns = a.Positional[0];
        string key = a.Positional[1];
        switch (verb)
        {
            case "get":
            {
                bool raw = a.Flag("raw");
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                var obj = await client.GetAsync(ns, key, request).ConfigureAwait(false);
                if (!obj.Found)
                {
                    stderr.WriteLine($"not found: {ns}/{key}");
                    return ExitCodes.NotFound;
                }
                if (!raw && DataTypeCommands.TryPrint(obj, stdout))
                    return ExitCodes.Ok;
                if (raw)
                {
                    if (obj.HasSiblings)
                    {
                        stderr.WriteLine($"{ns}/{key} has {obj.Siblings.Count} siblings; run without --raw to see them");
                        return ExitCodes.Siblings;
                    }
                    stdout.Write(obj.Value.AsString());
                    return ExitCodes.Ok;
                }
                string context = obj.Context.ToString();
                foreach (var value in obj.Siblings)
                    stdout.WriteLine($"{context}\t{Escaping.Escape(value.Value)}");
                if (obj.HasSiblings)
                    stderr.WriteLine($"{obj.Siblings.Count} siblings: resolve with kv put {ns} {key} VALUE --context {context}");
                return ExitCodes.Ok;
            }
            case "put":
            {
                var context = Context(a);
                string contentType = a.Option("content-type") ?? "text/plain; charset=utf-8";
                var ttl = TtlCommands.Ttl(a);
                string? type = a.Option("type");
                a.Done(3);
                if (type is not null && ttl is not null)
                    throw new CliException("--ttl cannot be combined with --type: a data type's value has no time to live");
                string text = a.Positional.Count == 3 ? a.Positional[2] : await stdin.ReadToEndAsync().ConfigureAwait(false);
                if (type is not null)
                    return await DataTypeCommands.PutTypedAsync(options, request, ns, key, text, type, stdout).ConfigureAwait(false);
                byte[] value = Encoding.UTF8.GetBytes(text);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                var result = ttl is { } t
                    ? await client.PutAsync(ns, key, value, t, context, request, contentType).ConfigureAwait(false)
                    : await client.PutAsync(ns, key, value, context, request, contentType).ConfigureAwait(false);
                stdout.WriteLine(result.Context.ToString());
                return ExitCodes.Ok;
            }
            case "del":
            {
                var context = Context(a);
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                if (context is null)
                {
                    // Delete what is there now (Riak's clients fetch the context first as well).
                    var current = await client.GetAsync(ns, key, request).ConfigureAwait(false);
                    context = current.Context;
                }
                var result = await client.DeleteAsync(ns, key, context, request).ConfigureAwait(false);
                stdout.WriteLine(result.Context.ToString());
                return ExitCodes.Ok;
            }
            default:
                throw new CliException($"unknown command '{verb}'");
        }
    }

    private static CausalContext? Context(CliArgs a)
    {
        string? c = a.Option("context");
        try
        {
            return c is null ? null : CausalContext.Parse(c);
        }
        catch (FormatException e)
        {
            throw new CliException("--context: " + e.Message);
        }
    }
}
