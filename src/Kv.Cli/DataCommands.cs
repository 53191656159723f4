using System.Text;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv put|get|del`: data through the client library (declared in <see cref="CommandTree"/>).</summary>
public static class DataCommands
{
    /// <summary>`kv get NS KEY [--raw]`: CONTEXT&lt;TAB&gt;VALUE per sibling, a data type's plain value, or (--raw) the value alone.</summary>
    public static async Task<int> GetAsync(ClientSettings c, string ns, string key, bool raw, TextWriter stdout, TextWriter stderr)
    {
        await using var client = await KvClient.ConnectAsync(c.Options).ConfigureAwait(false);
        var obj = await client.GetAsync(ns, key, c.Request).ConfigureAwait(false);
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

    /// <summary>`kv put NS KEY [VALUE]` (no VALUE: stdin); prints the new context, or "ok" for a typed register write.</summary>
    public static async Task<int> PutAsync(ClientSettings c, string ns, string key, string? valueText, CausalContext? context, string? contentType,
        TimeSpan? ttl, string? type, TextReader stdin, TextWriter stdout)
    {
        if (type is not null && ttl is not null)
            throw new CliException("--ttl cannot be combined with --type: a data type's value has no time to live");
        string text = valueText ?? await stdin.ReadToEndAsync().ConfigureAwait(false);
        if (type is not null)
            return await DataTypeCommands.PutTypedAsync(c.Options, c.Request, ns, key, text, type, stdout).ConfigureAwait(false);
        byte[] value = Encoding.UTF8.GetBytes(text);
        contentType ??= "text/plain; charset=utf-8";
        await using var client = await KvClient.ConnectAsync(c.Options).ConfigureAwait(false);
        var result = ttl is { } t
            ? await client.PutAsync(ns, key, value, t, context, c.Request, contentType).ConfigureAwait(false)
            : await client.PutAsync(ns, key, value, context, c.Request, contentType).ConfigureAwait(false);
        stdout.WriteLine(result.Context.ToString());
        return ExitCodes.Ok;
    }

    /// <summary>`kv del NS KEY [--context C]`: without a context, deletes what is there now; prints the new context.</summary>
    public static async Task<int> DelAsync(ClientSettings c, string ns, string key, CausalContext? context, TextWriter stdout)
    {
        await using var client = await KvClient.ConnectAsync(c.Options).ConfigureAwait(false);
        if (context is null)
        {
            // Delete what is there now (Riak's clients fetch the context first as well).
            var current = await client.GetAsync(ns, key, c.Request).ConfigureAwait(false);
            context = current.Context;
        }
        var result = await client.DeleteAsync(ns, key, context, c.Request).ConfigureAwait(false);
        stdout.WriteLine(result.Context.ToString());
        return ExitCodes.Ok;
    }

    /// <summary>A --context value: null and the context, or the error message.</summary>
    public static string? ParseContext(string text, out CausalContext? context)
    {
        try
        {
            context = CausalContext.Parse(text);
            return null;
        }
        catch (FormatException e)
        {
            context = null;
            return "--context: " + e.Message;
        }
    }
}
