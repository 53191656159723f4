using System.Globalization;
using Kv.Client;

namespace Kv.Cli;

/// <summary>
/// The CRDT data type verbs (names as Redis's): kv incr|decr NS KEY [BY], kv sadd|srem NS KEY
/// MEMBER..., kv smembers NS KEY, kv sismember NS KEY MEMBER (exit 0 member, 1 not), kv scard NS
/// KEY; kv hset|hget|hgetall|hdel|hincr; kv lpush|rpush|lpop|rpop|lrange|llen|lrem; and
/// `kv put NS KEY VALUE --type string|int|float` on register namespaces (DataCommands).
/// A verb of the wrong kind for the namespace is refused by the cluster (exit 7).
/// </summary>
public static class DataTypeCommands
{
    public static readonly IReadOnlySet<string> Verbs = new HashSet<string>(StringComparer.Ordinal) 
    {
        "incr", "decr", "sadd", "srem", "smembers", "sismember", "scard",
        "hset", "hget", "hgetall", "hdel", "hincr",
        "lpush", "rpush", "lpop", "rpop", "lrange", "llen", "lrem",
    };

    private static async Task<int> WithClient(ClientSettings c, Func<KvClient, Task<int>> run)
    {
        await using var client = await KvClient.ConnectAsync(c.Options).ConfigureAwait(false);
        return await run(client).ConfigureAwait(false);
    }

    private static string Text(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Escaped(string s) => Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(s));

    /// <summary>`kv incr|decr NS KEY [BY]`: prints the counter's new value.</summary>
    public static Task<int> CounterAsync(ClientSettings c, string ns, string key, long by, bool increment, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            long value = increment
                ? await client.IncrementAsync(ns, key, by, c.Request).ConfigureAwait(false)
                : await client.DecrementAsync(ns, key, by, c.Request).ConfigureAwait(false);
            stdout.WriteLine(Text(value));
            return ExitCodes.Ok;
        });

    /// <summary>`kv sadd|srem NS KEY MEMBER...`: prints how many members changed.</summary>
    public static Task<int> SetChangeAsync(ClientSettings c, string ns, string key, IReadOnlyList<string> members, bool add, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            long n = add
                ? await client.SetAddAsync(ns, key, members, c.Request).ConfigureAwait(false)
                : await client.SetRemoveAsync(ns, key, members, c.Request).ConfigureAwait(false);
            stdout.WriteLine(Text(n));
            return ExitCodes.Ok;
        });

    /// <summary>`kv smembers NS KEY`: one member per line.</summary>
    public static Task<int> SetMembersAsync(ClientSettings c, string ns, string key, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            foreach (string m in await client.SetMembersAsync(ns, key, c.Request).ConfigureAwait(false))
                stdout.WriteLine(Escaped(m));
            return ExitCodes.Ok;
        });

    /// <summary>`kv sismember NS KEY MEMBER`: prints 1 (exit 0) or 0 (exit 1).</summary>
    public static Task<int> SetIsMemberAsync(ClientSettings c, string ns, string key, string member, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            bool isMember = await client.SetIsMemberAsync(ns, key, member, c.Request).ConfigureAwait(false);
            stdout.WriteLine(isMember ? "1" : "0");
            return isMember ? ExitCodes.Ok : ExitCodes.NotFound;
        });

    /// <summary>`kv scard NS KEY`: the number of members.</summary>
    public static Task<int> SetSizeAsync(ClientSettings c, string ns, string key, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            stdout.WriteLine(Text(await client.SetSizeAsync(ns, key, c.Request).ConfigureAwait(false)));
            return ExitCodes.Ok;
        });

    /// <summary>`kv hset NS KEY FIELD VALUE [FIELD VALUE]...`: prints how many fields were new.</summary>
    public static Task<int> HashSetAsync(ClientSettings c, string ns, string key, IReadOnlyList<string> fieldsAndValues, TextWriter stdout)
    {
        if (fieldsAndValues.Count == 0 || fieldsAndValues.Count % 2 != 0)
            throw new CliException("usage: kv hset NAMESPACE KEY FIELD VALUE [FIELD VALUE]... (FIELD VALUE pairs)");
        var pairs = new List<KeyValuePair<string, string>>();
        for (int i = 0; i < fieldsAndValues.Count; i += 2)
            pairs.Add(KeyValuePair.Create(fieldsAndValues[i], fieldsAndValues[i + 1]));
        return WithClient(c, async client =>
        {
            stdout.WriteLine(Text(await client.HashSetAsync(ns, key, pairs, c.Request).ConfigureAwait(false)));
            return ExitCodes.Ok;
        });
    }

    /// <summary>`kv hget NS KEY FIELD`: the field's value; exit 1 if absent.</summary>
    public static Task<int> HashGetAsync(ClientSettings c, string ns, string key, string field, TextWriter stdout, TextWriter stderr) =>
        WithClient(c, async client =>
        {
            string? value = await client.HashGetAsync(ns, key, field, c.Request).ConfigureAwait(false);
            if (value is null)
            {
                stderr.WriteLine($"not found: {ns}/{key} field {field}");
                return ExitCodes.NotFound;
            }
            stdout.WriteLine(Escaped(value));
            return ExitCodes.Ok;
        });

    /// <summary>`kv hgetall NS KEY`: FIELD&lt;TAB&gt;VALUE lines.</summary>
    public static Task<int> HashGetAllAsync(ClientSettings c, string ns, string key, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            foreach (var (field, value) in await client.HashGetAllAsync(ns, key, c.Request).ConfigureAwait(false))
                stdout.WriteLine($"{Escaped(field)}\t{Escaped(value)}");
            return ExitCodes.Ok;
        });

    /// <summary>`kv hdel NS KEY FIELD...`: prints how many fields were deleted.</summary>
    public static Task<int> HashDeleteAsync(ClientSettings c, string ns, string key, IReadOnlyList<string> fields, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            stdout.WriteLine(Text(await client.HashDeleteAsync(ns, key, fields, c.Request).ConfigureAwait(false)));
            return ExitCodes.Ok;
        });

    /// <summary>`kv hincr NS KEY FIELD [BY]`: prints the field's new count.</summary>
    public static Task<int> HashIncrementAsync(ClientSettings c, string ns, string key, string field, long by, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            stdout.WriteLine(Text(await client.HashIncrementAsync(ns, key, field, by, c.Request).ConfigureAwait(false)));
            return ExitCodes.Ok;
        });

    /// <summary>`kv lpush|rpush NS KEY VALUE...`: prints the list's length.</summary>
    public static Task<int> ListPushAsync(ClientSettings c, string ns, string key, IReadOnlyList<string> values, bool left, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            long length = left
                ? await client.ListPushLeftAsync(ns, key, values, c.Request).ConfigureAwait(false)
                : await client.ListPushRightAsync(ns, key, values, c.Request).ConfigureAwait(false);
            stdout.WriteLine(Text(length));
            return ExitCodes.Ok;
        });

    /// <summary>`kv lpop|rpop NS KEY`: removes and prints the head / tail; exit 1 if the list is empty.</summary>
    public static Task<int> ListPopAsync(ClientSettings c, string ns, string key, bool left, TextWriter stdout, TextWriter stderr) =>
        WithClient(c, async client =>
        {
            string? value = left
                ? await client.ListPopLeftAsync(ns, key, c.Request).ConfigureAwait(false)
                : await client.ListPopRightAsync(ns, key, c.Request).ConfigureAwait(false);
            if (value is null)
            {
                stderr.WriteLine($"empty: {ns}/{key}");
                return ExitCodes.NotFound;
            }
            stdout.WriteLine(Escaped(value));
            return ExitCodes.Ok;
        });

    /// <summary>`kv lrange NS KEY START STOP`: the elements, one per line (negative indexes count from the end).</summary>
    public static Task<int> ListRangeAsync(ClientSettings c, string ns, string key, long start, long stop, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            foreach (string v in await client.ListRangeAsync(ns, key, start, stop, c.Request).ConfigureAwait(false))
                stdout.WriteLine(Escaped(v));
            return ExitCodes.Ok;
        });

    /// <summary>`kv llen NS KEY`: the list's length.</summary>
    public static Task<int> ListLengthAsync(ClientSettings c, string ns, string key, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            stdout.WriteLine(Text(await client.ListLengthAsync(ns, key, c.Request).ConfigureAwait(false)));
            return ExitCodes.Ok;
        });

    /// <summary>`kv lrem NS KEY COUNT VALUE`: prints how many elements were removed.</summary>
    public static Task<int> ListRemoveAsync(ClientSettings c, string ns, string key, long count, string value, TextWriter stdout) =>
        WithClient(c, async client =>
        {
            stdout.WriteLine(Text(await client.ListRemoveAsync(ns, key, count, value, c.Request).ConfigureAwait(false)));
            return ExitCodes.Ok;
        });

    /// <summary>A whole number within ±long.MaxValue (BY, START, STOP, COUNT): null and the number, or the error message.</summary>
    public static string? ParseWhole(string text, string what, out long n) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n) && n != long.MinValue
            ? null
            : $"{what} must be a whole number within ±{long.MaxValue}, not '{text}'";

    /// <summary>`kv put NS KEY VALUE --type T`: a typed register write.</summary>
    public static async Task<int> PutTypedAsync(KvClientOptions options, Kv.Actors.Coordinators.RequestOptions request, string ns, string key, string value, string type, TextWriter stdout)
    {
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        await client.RegisterSetAsync(ns, key, value, type, request).ConfigureAwait(false);
        stdout.WriteLine("ok");
        return ExitCodes.Ok;
    }

    /// <summary>`kv get` of a CRDT value: its plain form (a counter's integer, a set's members one a line, a register's value); false for an ordinary value.</summary>
    public static bool TryPrint(KvObject obj, TextWriter stdout)
    {
        if (KvClient.CrdtState(obj) is not { } state)
            return false;
        switch (state.State)
        {
            case Kv.Actors.Crdt.OrSet set:
                foreach (var m in set.Members.Keys)
                    stdout.WriteLine(Escaping.Escape(m));
                return true;
            case Kv.Actors.Crdt.OrMap map:
                foreach (var (field, f) in map.Present)
                    stdout.WriteLine($"{Escaping.Escape(field)}\t{Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(Kv.Actors.Crdt.OrMap.Text(f)))}");
                return true;
            case Kv.Actors.Crdt.OrList list:
                foreach (var v in list.Elements.Values)
                    stdout.WriteLine(Escaping.Escape(v));
                return true;
        }
        stdout.WriteLine(KvClient.PlainText(state.Type, state.State));
        return true;
    }
}
