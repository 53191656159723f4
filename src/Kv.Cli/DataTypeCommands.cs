using System.Globalization;
using Kv.Client;

namespace Kv.Cli;

/// <summary>
/// The CRDT data type verbs (names as Redis's): kv incr|decr NS KEY [BY], kv sadd|srem NS KEY
/// MEMBER..., kv smembers NS KEY, kv sismember NS KEY MEMBER (exit 0 member, 1 not), kv scard NS
/// KEY; and `kv put NS KEY VALUE --type string|int|float` on register namespaces (DataCommands).
/// A verb of the wrong kind for the namespace is refused by the cluster (exit 7).
/// </summary>
public static class DataTypeCommands
{
    public static readonly IReadOnlySet<string> Verbs = new HashSet<string>(StringComparer.Ordinal) { "incr", "decr", "sadd", "srem", "smembers", "sismember", "scard" };

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
            _ => $"kv {verb} NAMESPACE KEY",
        };
        int min = verb is "sadd" or "srem" or "sismember" ? 3 : 2;
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
            default:
                throw new CliException($"unknown command '{verb}'");
        }
    }

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
        if (state.State is Kv.Actors.Crdt.OrSet set)
        {
            foreach (var m in set.Members.Keys)
                stdout.WriteLine(Escaping.Escape(m));
            return true;
        }
        stdout.WriteLine(KvClient.PlainText(state.Type, state.State));
        return true;
    }
}
