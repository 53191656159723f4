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

    public static async Task<int> RunAsync(string verb, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args);
        var options = ClientArgs.Options(a);
        var request = ClientArgs.Request(a);
        var p = a.Positional;
        string usage = verb switch
        {
            "incr" or "decr" => $"kv {verb} NAMESPACE KEY [BY]",
            "sadd" or "srem" => $"kv {verb} NAMESPACE KEY MEMBER...",
            "sismember" => "kv sismember NAMESPACE KEY MEMBER",
            "hset" => "kv hset NAMESPACE KEY FIELD VALUE [FIELD VALUE]...",
            "hget" => "kv hget NAMESPACE KEY FIELD",
            "hdel" => "kv hdel NAMESPACE KEY FIELD...",
            "hincr" => "kv hincr NAMESPACE KEY FIELD [BY]",
            "lpush" or "rpush" => $"kv {verb} NAMESPACE KEY VALUE...",
            "lrange" => "kv lrange NAMESPACE KEY START STOP",
            "lrem" => "kv lrem NAMESPACE KEY COUNT VALUE",
            _ => $"kv {verb} NAMESPACE KEY",
        };
        int min = verb switch
        {
            "sadd" or "srem" or "sismember" or "hget" or "hdel" or "hincr" or "lpush" or "rpush" => 3,
            "hset" or "lrange" or "lrem" => 4,
            _ => 2,
        };
        if (p.Count < min)
            throw new CliException("usage: " + usage);
        string ns = p[0], key = p[1];
        switch (verb)
        {
            case "incr":
            case "decr":
            {
                a.Done(3);
                long by = 1;
                if (p.Count == 3 && !long.TryParse(p[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out by))
                    throw new CliException($"BY must be a whole number within ±{long.MaxValue}, not '{p[2]}'");
                if (by == long.MinValue)
                    throw new CliException($"BY must be within ±{long.MaxValue}");
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                long value = verb == "incr"
                    ? await client.IncrementAsync(ns, key, by, request).ConfigureAwait(false)
                    : await client.DecrementAsync(ns, key, by, request).ConfigureAwait(false);
                stdout.WriteLine(value.ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "sadd":
            case "srem":
            {
                a.Done(int.MaxValue);
                var members = p.Skip(2).ToList();
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                long n = verb == "sadd"
                    ? await client.SetAddAsync(ns, key, members, request).ConfigureAwait(false)
                    : await client.SetRemoveAsync(ns, key, members, request).ConfigureAwait(false);
                stdout.WriteLine(n.ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "smembers":
            {
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                foreach (string m in await client.SetMembersAsync(ns, key, request).ConfigureAwait(false))
                    stdout.WriteLine(Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(m)));
                return ExitCodes.Ok;
            }
            case "sismember":
            {
                a.Done(3);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                bool member = await client.SetIsMemberAsync(ns, key, p[2], request).ConfigureAwait(false);
                stdout.WriteLine(member ? "1" : "0");
                return member ? ExitCodes.Ok : ExitCodes.NotFound;
            }
            case "scard":
            {
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                stdout.WriteLine((await client.SetSizeAsync(ns, key, request).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "hset":
            {
                a.Done(int.MaxValue);
                if (p.Count % 2 != 0)
                    throw new CliException("usage: " + usage + " (FIELD VALUE pairs)");
                var pairs = new List<KeyValuePair<string, string>>();
                for (int i = 2; i < p.Count; i += 2)
                    pairs.Add(KeyValuePair.Create(p[i], p[i + 1]));
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                stdout.WriteLine((await client.HashSetAsync(ns, key, pairs, request).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "hget":
            {
                a.Done(3);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                string? value = await client.HashGetAsync(ns, key, p[2], request).ConfigureAwait(false);
                if (value is null)
                {
                    stderr.WriteLine($"not found: {ns}/{key} field {p[2]}");
                    return ExitCodes.NotFound;
                }
                stdout.WriteLine(Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(value)));
                return ExitCodes.Ok;
            }
            case "hgetall":
            {
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                foreach (var (field, value) in await client.HashGetAllAsync(ns, key, request).ConfigureAwait(false))
                    stdout.WriteLine($"{Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(field))}\t{Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(value))}");
                return ExitCodes.Ok;
            }
            case "hdel":
            {
                a.Done(int.MaxValue);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                stdout.WriteLine((await client.HashDeleteAsync(ns, key, p.Skip(2).ToList(), request).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "hincr":
            {
                a.Done(4);
                long by = p.Count == 4 ? Whole(p[3], "BY") : 1;
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                stdout.WriteLine((await client.HashIncrementAsync(ns, key, p[2], by, request).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "lpush":
            case "rpush":
            {
                a.Done(int.MaxValue);
                var values = p.Skip(2).ToList();
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                long length = verb == "lpush"
                    ? await client.ListPushLeftAsync(ns, key, values, request).ConfigureAwait(false)
                    : await client.ListPushRightAsync(ns, key, values, request).ConfigureAwait(false);
                stdout.WriteLine(length.ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "lpop":
            case "rpop":
            {
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                string? value = verb == "lpop"
                    ? await client.ListPopLeftAsync(ns, key, request).ConfigureAwait(false)
                    : await client.ListPopRightAsync(ns, key, request).ConfigureAwait(false);
                if (value is null)
                {
                    stderr.WriteLine($"empty: {ns}/{key}");
                    return ExitCodes.NotFound;
                }
                stdout.WriteLine(Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(value)));
                return ExitCodes.Ok;
            }
            case "lrange":
            {
                a.Done(4);
                long start = Whole(p[2], "START"), stop = Whole(p[3], "STOP");
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                foreach (string v in await client.ListRangeAsync(ns, key, start, stop, request).ConfigureAwait(false))
                    stdout.WriteLine(Escaping.Escape(System.Text.Encoding.UTF8.GetBytes(v)));
                return ExitCodes.Ok;
            }
            case "llen":
            {
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                stdout.WriteLine((await client.ListLengthAsync(ns, key, request).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            case "lrem":
            {
                a.Done(4);
                long count = Whole(p[2], "COUNT");
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                stdout.WriteLine((await client.ListRemoveAsync(ns, key, count, p[3], request).ConfigureAwait(false)).ToString(CultureInfo.InvariantCulture));
                return ExitCodes.Ok;
            }
            default:
                throw new CliException($"unknown command '{verb}'");
        }
    }

    private static long Whole(string text, string what) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) && n != long.MinValue
            ? n
            : throw new CliException($"{what} must be a whole number within ±{long.MaxValue}, not '{text}'");

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
