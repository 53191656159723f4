using System.Globalization;
using System.Text;
using Kv.Actors.Crdt;
using Kv.Actors.Security;
using Kv.Client;
using Microsoft.Extensions.Logging;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>A reply that ends a command with a Redis error (its text starts with the code).</summary>
internal sealed class RespError(string message) : Exception(message);

/// <summary>
/// The Redis commands, mapped onto the store through the node's in-process client. Keyspaces
/// (docs/frontends/resp.md): strings in the connection's namespace (kv.resp.namespace, SELECT),
/// hashes, sets and lists in kv.resp.hash-namespace / set-namespace / list-namespace. A key's type is
/// the keyspace that holds it; data-type writes refuse a key another keyspace holds (WRONGTYPE), reads
/// that find nothing look there before answering nil / empty.
/// </summary>
public sealed partial class RespCommands
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);
    private readonly FrontEndContext _ctx;
    private readonly RespOptions _o;
    private readonly ILogger _log;

    private RespCommands(FrontEndContext ctx, ILoggerFactory loggers)
    {
        _ctx = ctx;
        _o = ctx.Settings.RespOptions;
        _log = loggers.CreateLogger("Kv.Resp");
    }

    public static RespCommands For(FrontEndContext ctx, ILoggerFactory loggers) => new(ctx, loggers);

    /// <summary>The command names this front end knows (COMMAND COUNT, COMMAND, unknown-command errors).</summary>
    public static readonly string[] Names =
    [
        "PING", "ECHO", "HELLO", "AUTH", "QUIT", "COMMAND", "INFO", "SELECT", "CLIENT", "CONFIG", "TYPE",
        "GET", "SET", "SETNX", "SETEX", "PSETEX", "GETSET", "DEL", "UNLINK", "EXISTS", "MGET", "MSET", "INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT",
        "EXPIRE", "PEXPIRE", "TTL", "PTTL", "PERSIST", "HSET", "HMSET", "HGET", "HGETALL", "HDEL", "HINCRBY",
        "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SCARD", "LPUSH", "RPUSH", "LPOP", "RPOP", "LRANGE", "LLEN", "SCAN",
    ];

    /// <summary>
    /// Runs a pipelined batch, replies in order: a run of plain GET k / SET k v on distinct keys runs
    /// concurrently (no two touch one key, so no order among them is observable); every other
    /// command runs alone, after what was sent before it.
    /// </summary>
    public async Task<IReadOnlyList<RespReply>> RunBatchAsync(RespSession s, List<byte[][]> batch)
    {
        if (batch.Count == 1)
            return [await RunAsync(s, batch[0]).ConfigureAwait(false)]; // unpipelined: nothing to run concurrently
        var replies = new List<RespReply>(batch.Count);
        int i = 0;
        HashSet<string>? keys = null;
        while (i < batch.Count && !s.Quit)
        {
            int j = i;
            if (s.Principal is not null)
            {
                keys ??= new HashSet<string>(StringComparer.Ordinal);
                keys.Clear();
                while (j < batch.Count && IsPlainGetOrSet(batch[j]) && keys.Add(Convert.ToBase64String(batch[j][1])))
                    j++;
            }
            if (j - i >= 2)
            {
                var tasks = new Task<RespReply>[j - i];
                for (int k = i; k < j; k++)
                    tasks[k - i] = RunAsync(s, batch[k]);
                foreach (var t in tasks)
                    replies.Add(await t.ConfigureAwait(false));
                i = j;
                continue;
            }
            replies.Add(await RunAsync(s, batch[i]).ConfigureAwait(false));
            i++;
        }
        return replies;
    }

    private static bool IsPlainGetOrSet(byte[][] args) =>
        (args.Length == 2 && Is(args[0], "GET")) || (args.Length == 3 && Is(args[0], "SET"));

    private static bool Is(byte[] word, string name)
    {
        if (word.Length != name.Length)
            return false;
        for (int i = 0; i < word.Length; i++)
            if ((word[i] & 0xDF) != name[i])
                return false;
        return true;
    }

    /// <summary>Runs one command; never throws (errors are replies).</summary>
    public async Task<RespReply> RunAsync(RespSession s, byte[][] args)
    {
        string name = Is(args[0], "GET") ? "GET" : Is(args[0], "SET") ? "SET" : Encoding.ASCII.GetString(args[0]).ToUpperInvariant();
        try
        {
            if (s.Principal is null && name is not ("AUTH" or "HELLO" or "QUIT"))
                return RespReply.Error("NOAUTH Authentication required.");
            return await DispatchAsync(s, name, args).ConfigureAwait(false);
        }
        catch (RespError e)
        {
            return RespReply.Error(e.Message);
        }
        catch (KvException e)
        {
            return RespReply.Error(ErrorOf(e));
        }
        catch (Exception e) when (e is TaskCanceledException or TimeoutException)
        {
            return RespReply.Error("ERR timeout: " + e.Message);
        }
        catch (Exception e)
        {
            _log.LogWarning(e, "RESP {Command} failed", name);
            return RespReply.Error("ERR internal error: " + e.Message);
        }
    }

    private static string ErrorOf(KvException e) => e switch
    {
        KvTimeoutException => "ERR timeout: " + e.Message,
        KvUnavailableException => "ERR unavailable: " + e.Message,
        QuorumNotMetException => "ERR quorum not met: " + e.Message,
        ValueTooLargeException => "ERR value too large: " + e.Message,
        InvalidKeyException => "ERR invalid key: " + e.Message,
        TooManySiblingsException => "ERR too many siblings: " + e.Message,
        _ => "ERR " + e.Message,
    };

    private Task<RespReply> DispatchAsync(RespSession s, string name, byte[][] a) => name switch
    {
        "PING" => Sync(Ping(a)),
        "ECHO" => Sync(Echo(a)),
        "HELLO" => HelloAsync(s, a),
        "AUTH" => AuthAsync(s, a),
        "QUIT" => Sync(Quit(s)),
        "COMMAND" => Sync(Command(a)),
        "INFO" => Sync(Info(s, a)),
        "SELECT" => Sync(Select(s, a)),
        "CLIENT" => Sync(Client(s, a)),
        "CONFIG" => Sync(Config(a)),
        "TYPE" => TypeAsync(s, a),
        "GET" => GetAsync(s, a),
        "SET" => SetAsync(s, a),
        "SETNX" => SetNxAsync(s, a),
        "SETEX" => Legacy(s, a, 4, [a[0], a.ElementAtOrDefault(1)!, a.ElementAtOrDefault(3)!, "EX"u8.ToArray(), a.ElementAtOrDefault(2)!]),
        "PSETEX" => Legacy(s, a, 4, [a[0], a.ElementAtOrDefault(1)!, a.ElementAtOrDefault(3)!, "PX"u8.ToArray(), a.ElementAtOrDefault(2)!]),
        "GETSET" => Legacy(s, a, 3, [a[0], a.ElementAtOrDefault(1)!, a.ElementAtOrDefault(2)!, "GET"u8.ToArray()]),
        "DEL" or "UNLINK" => DelAsync(s, a),
        "EXISTS" => ExistsAsync(s, a),
        "MGET" => MGetAsync(s, a),
        "MSET" => MSetAsync(s, a),
        "INCR" => IncrAsync(s, a, 2, 1),
        "DECR" => IncrAsync(s, a, 2, -1),
        "INCRBY" => IncrAsync(s, a, 3, 1),
        "DECRBY" => IncrAsync(s, a, 3, -1),
        "INCRBYFLOAT" => IncrByFloatAsync(s, a),
        "EXPIRE" => ExpireAsync(s, a, 1000),
        "PEXPIRE" => ExpireAsync(s, a, 1),
        "TTL" => TtlAsync(s, a, 1000),
        "PTTL" => TtlAsync(s, a, 1),
        "PERSIST" => PersistAsync(s, a),
        "HSET" => HSetAsync(s, a, false),
        "HMSET" => HSetAsync(s, a, true),
        "HGET" => HGetAsync(s, a),
        "HGETALL" => HGetAllAsync(s, a),
        "HDEL" => HDelAsync(s, a),
        "HINCRBY" => HIncrByAsync(s, a),
        "SADD" => SAddAsync(s, a),
        "SREM" => SRemAsync(s, a),
        "SMEMBERS" => SMembersAsync(s, a),
        "SISMEMBER" => SIsMemberAsync(s, a),
        "SCARD" => SCardAsync(s, a),
        "LPUSH" => PushAsync(s, a, left: true),
        "RPUSH" => PushAsync(s, a, left: false),
        "LPOP" => PopAsync(s, a, left: true),
        "RPOP" => PopAsync(s, a, left: false),
        "LRANGE" => LRangeAsync(s, a),
        "LLEN" => LLenAsync(s, a),
        "SCAN" => ScanAsync(s, a),
        _ => Sync(RespReply.Error($"ERR unknown command '{Printable(a[0])}', with args beginning with: {string.Join(' ', a.Skip(1).Take(3).Select(x => "'" + Printable(x) + "'"))}")),
    };

    private static Task<RespReply> Sync(RespReply r) => Task.FromResult(r);

    /// <summary>SETEX, PSETEX, GETSET: SET with the options they stand for.</summary>
    private Task<RespReply> Legacy(RespSession s, byte[][] a, int arity, byte[][] asSet)
    {
        Arity(a, arity, arity);
        return SetAsync(s, asSet);
    }

    private async Task<RespReply> SetNxAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3, 3);
        var reply = await SetAsync(s, [a[0], a[1], a[2], "NX"u8.ToArray()]).ConfigureAwait(false);
        return reply.IsError ? reply : reply.Kind == RespKind.Null ? RespReply.Zero : RespReply.One;
    }

    // ---- helpers ----

    private ValueTask<KvClient> Client() => _ctx.ClientAsync();

    private static void Arity(byte[][] a, int min, int max = int.MaxValue)
    {
        if (a.Length < min || a.Length > max)
            throw new RespError($"ERR wrong number of arguments for '{Encoding.ASCII.GetString(a[0]).ToLowerInvariant()}' command");
    }

    private static string Printable(byte[] b)
    {
        var text = Encoding.UTF8.GetString(b, 0, Math.Min(b.Length, 128));
        return new string(text.Select(c => c is >= ' ' and < (char)127 ? c : '?').ToArray());
    }

    /// <summary>A key, member or field: UTF-8 text (the store's keys are text).</summary>
    private static string Text(byte[] b, string what = "keys")
    {
        try
        {
            return StrictUtf8.GetString(b);
        }
        catch (DecoderFallbackException)
        {
            throw new RespError($"ERR {what} must be UTF-8 text here");
        }
    }

    private static string Word(byte[] b) => Encoding.ASCII.GetString(b).ToUpperInvariant();

    private static long Long(byte[] b, string error = "ERR value is not an integer or out of range")
    {
        if (b.Length is 0 or > 20 || !long.TryParse(Encoding.ASCII.GetString(b), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
            throw new RespError(error);
        return v;
    }

    private void Allow(RespSession s, Permission p, string ns, byte[] command)
    {
        if (!_ctx.Access.IsAllowed(s.Principal!, p, ns))
            throw new RespError($"NOPERM User {(s.Principal!.IsAnonymous ? "default" : s.Principal.Name)} has no permissions to run the '{Encoding.ASCII.GetString(command).ToLowerInvariant()}' command on namespace '{ns}'");
    }

    private static RespError WrongType() => new("WRONGTYPE Operation against a key holding the wrong kind of value");

    private static RespError Siblings(KvObject obj) =>
        new($"ERR {obj.Namespace}/{obj.Key} has {obj.Siblings.Count} siblings (concurrent writes in a namespace that keeps them); read and resolve them with the kv client, or SET the key to replace them all");

    /// <summary>The keyspaces: the connection's strings namespace, then hashes, sets, lists.</summary>
    private (string Ns, string Type)[] Keyspaces(RespSession s) =>
        [(s.Namespace, "string"), (_o.Hashes, "hash"), (_o.Sets, "set"), (_o.Lists, "list")];

    /// <summary>Whether <paramref name="ns"/> holds <paramref name="key"/>: a live string, or a data-type value that is not empty.</summary>
    private async Task<bool> HoldsAsync(KvClient c, string ns, string type, string key)
    {
        if (type == "string")
            return await c.ExistsAsync(ns, key).ConfigureAwait(false);
        var obj = await c.GetAsync(ns, key).ConfigureAwait(false);
        if (!obj.Found)
            return false;
        return KvClient.CrdtState(obj)?.State switch
        {
            OrMap m => m.Present.Any(),
            OrSet set => set.Count > 0,
            OrList l => l.Count > 0,
            null => false,
            _ => true,
        };
    }

    /// <summary>The type of the first keyspace other than <paramref name="except"/> (that the connection may read) holding the key; null: none.</summary>
    private async Task<string?> OtherTypeAsync(RespSession s, string key, string except)
    {
        var c = await Client().ConfigureAwait(false);
        var spaces = Keyspaces(s).Where(k => k.Type != except && _ctx.Access.IsAllowed(s.Principal!, Permission.Read, k.Ns)).ToArray();
        var held = await Task.WhenAll(spaces.Select(k => HoldsAsync(c, k.Ns, k.Type, key))).ConfigureAwait(false);
        for (int i = 0; i < spaces.Length; i++)
            if (held[i])
                return spaces[i].Type;
        return null;
    }

    /// <summary>Refuses a data-type write on a key another keyspace holds.</summary>
    private async Task GuardAsync(RespSession s, string key, string type)
    {
        if (await OtherTypeAsync(s, key, type).ConfigureAwait(false) is not null)
            throw WrongType();
    }

    /// <summary>Nothing was found in <paramref name="type"/>'s keyspace: WRONGTYPE when another holds the key.</summary>
    private Task MissAsync(RespSession s, string key, string type) => GuardAsync(s, key, type);

    // ---- connection ----

    private static RespReply Ping(byte[][] a)
    {
        Arity(a, 1, 2);
        return a.Length == 2 ? RespReply.Bulk(a[1]) : RespReply.Pong;
    }

    private static RespReply Echo(byte[][] a)
    {
        Arity(a, 2, 2);
        return RespReply.Bulk(a[1]);
    }

    private static RespReply Quit(RespSession s)
    {
        s.Quit = true;
        return RespReply.Ok;
    }

    private async Task<RespReply> AuthAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 3);
        string user = a.Length == 3 ? Encoding.UTF8.GetString(a[1]) : "default";
        string password = Encoding.UTF8.GetString(a[^1]);
        var principal = await _ctx.Access.AuthenticateAsync(user, password, s.Remote).ConfigureAwait(false);
        if (principal is null)
            return RespReply.Error("WRONGPASS invalid username-password pair or user is disabled.");
        s.Principal = principal;
        return RespReply.Ok;
    }

    private async Task<RespReply> HelloAsync(RespSession s, byte[][] a)
    {
        int protocol = s.Protocol;
        int i = 1;
        if (a.Length > 1)
        {
            if (!int.TryParse(Encoding.ASCII.GetString(a[1]), NumberStyles.None, CultureInfo.InvariantCulture, out protocol))
                return RespReply.Error("ERR Protocol version is not an integer or out of range");
            if (protocol is not (2 or 3))
                return RespReply.Error("NOPROTO unsupported protocol version");
            i = 2;
        }
        string? name = null;
        for (; i < a.Length; i++)
        {
            string option = Word(a[i]);
            if (option == "AUTH" && i + 2 < a.Length)
            {
                var principal = await _ctx.Access.AuthenticateAsync(Encoding.UTF8.GetString(a[i + 1]), Encoding.UTF8.GetString(a[i + 2]), s.Remote).ConfigureAwait(false);
                if (principal is null)
                    return RespReply.Error("WRONGPASS invalid username-password pair or user is disabled.");
                s.Principal = principal;
                i += 2;
            }
            else if (option == "SETNAME" && i + 1 < a.Length)
            {
                name = Encoding.UTF8.GetString(a[++i]);
            }
            else
            {
                return RespReply.Error($"ERR Syntax error in HELLO option '{Printable(a[i])}'");
            }
        }
        if (s.Principal is null)
            return RespReply.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        s.Protocol = protocol;
        if (name is not null)
            s.Name = name;
        return RespReply.Map(
        [
            RespReply.Bulk("server"), RespReply.Bulk("redis"),
            RespReply.Bulk("version"), RespReply.Bulk(RedisVersion),
            RespReply.Bulk("proto"), RespReply.Integer(protocol),
            RespReply.Bulk("id"), RespReply.Integer(s.Id),
            RespReply.Bulk("mode"), RespReply.Bulk("standalone"),
            RespReply.Bulk("role"), RespReply.Bulk("master"),
            RespReply.Bulk("modules"), RespReply.EmptyArray,
        ]);
    }

    /// <summary>The Redis version this front end answers as (its commands are a subset of 7.2's).</summary>
    public const string RedisVersion = "7.2.0";

    private static RespReply Command(byte[][] a)
    {
        if (a.Length == 1)
            return RespReply.Array(Names.Select(n => RespReply.Bulk(n.ToLowerInvariant())).ToList());
        return Word(a[1]) switch
        {
            "COUNT" => RespReply.Integer(Names.Length),
            "DOCS" => RespReply.Map([]),
            "INFO" => RespReply.Array(a.Skip(2).Select(_ => RespReply.Nil).ToList()),
            _ => RespReply.Error($"ERR unknown subcommand '{Printable(a[1])}'. Try COMMAND HELP."),
        };
    }

    private RespReply Info(RespSession s, byte[][] a)
    {
        string section = a.Length > 1 ? Encoding.ASCII.GetString(a[1]).ToLowerInvariant() : "default";
        var sb = new StringBuilder();
        bool all = section is "default" or "all" or "everything";
        var nl = "\r\n";
        if (all || section == "server")
        {
            sb.Append("# Server").Append(nl)
              .Append("redis_version:").Append(RedisVersion).Append(nl)
              .Append("redis_mode:standalone").Append(nl)
              .Append("kv_node:").Append(_ctx.Node.Self).Append(nl)
              .Append("process_id:").Append(Environment.ProcessId).Append(nl)
              .Append("tcp_port:").Append(_ctx.Settings.Resp.Port).Append(nl)
              .Append("uptime_in_seconds:").Append((long)(DateTime.UtcNow - System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime()).TotalSeconds).Append(nl)
              .Append(nl);
        }
        if (all || section == "clients")
        {
            sb.Append("# Clients").Append(nl)
              .Append("connected_clients:").Append(RespConnectionHandler.Connected).Append(nl)
              .Append(nl);
        }
        if (all || section == "stats")
        {
            sb.Append("# Stats").Append(nl)
              .Append("total_connections_received:").Append(RespConnectionHandler.Received).Append(nl)
              .Append("total_commands_processed:").Append(RespConnectionHandler.Commands).Append(nl)
              .Append("total_error_replies:").Append(RespConnectionHandler.ErrorReplies).Append(nl)
              .Append(nl);
        }
        if (all || section == "replication")
        {
            sb.Append("# Replication").Append(nl)
              .Append("role:master").Append(nl)
              .Append("connected_slaves:0").Append(nl)
              .Append(nl);
        }
        if (all || section == "keyspace")
        {
            sb.Append("# Keyspace").Append(nl)
              .Append("kv_strings_namespace:").Append(s.Namespace).Append(nl)
              .Append("kv_hash_namespace:").Append(_o.Hashes).Append(nl)
              .Append("kv_set_namespace:").Append(_o.Sets).Append(nl)
              .Append("kv_list_namespace:").Append(_o.Lists).Append(nl);
        }
        return RespReply.Bulk(sb.ToString());
    }

    private RespReply Select(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        string target = Encoding.UTF8.GetString(a[1]);
        if (target == "0")
        {
            s.Namespace = _o.Strings;
            return RespReply.Ok;
        }
        if (long.TryParse(target, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            return RespReply.Error("ERR DB index is out of range (SELECT takes 0, the default, or the name of a namespace here)");
        if (!_ctx.Settings.Store.Namespaces.TryGetValue(target, out var props))
            return RespReply.Error($"ERR unknown namespace '{Printable(a[1])}' (SELECT takes 0 or a namespace declared under kv.namespaces)");
        if (props.Datatype != Datatype.None)
            return RespReply.Error($"ERR namespace '{target}' holds {CrdtValues.Name(props.Datatype)} values; SELECT takes a namespace of plain values (datatype none)");
        s.Namespace = target;
        return RespReply.Ok;
    }

    private static RespReply Client(RespSession s, byte[][] a)
    {
        Arity(a, 2);
        switch (Word(a[1]))
        {
            case "SETNAME":
                Arity(a, 3, 3);
                s.Name = Encoding.UTF8.GetString(a[2]);
                return RespReply.Ok;
            case "GETNAME":
                return RespReply.Bulk(s.Name);
            case "ID":
                return RespReply.Integer(s.Id);
            case "SETINFO":
                return RespReply.Ok;
            default:
                return RespReply.Error($"ERR unknown subcommand '{Printable(a[1])}'. CLIENT here knows SETNAME, GETNAME, ID, SETINFO.");
        }
    }

    private static RespReply Config(byte[][] a)
    {
        Arity(a, 2);
        return Word(a[1]) == "GET" ? RespReply.Map([]) : RespReply.Error("ERR CONFIG here only answers GET (with nothing): a node is configured by its HOCON file");
    }
}
