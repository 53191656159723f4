using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Kv.Actors.Coordinators;
using Kv.Client;

namespace Kv.Cli;

/// <summary>
/// The `kv` command tree (System.CommandLine): every verb with its arguments, options and
/// descriptions, so `--help` works on each, and parsed values are passed to the handlers in the
/// per-area files (DataCommands, ClusterCommands, ...). Usage errors are worded here
/// (<see cref="UsageError"/>) and exit 2. Adding a verb is one block in <see cref="Build"/>; a verb
/// with its own parser (the old `RunAsync(verb, args, stdout, stderr)` entry) is one
/// <see cref="Passthrough"/> line.
/// </summary>
public static class CommandTree
{
    /// <summary>No response files (@file is a value like any other), no bundling of short options.</summary>
    public static readonly ParserConfiguration Parser = new() { EnablePosixBundling = false, ResponseFileTokenReplacer = null };

    public const string ExitCodesHelp = """
        Exit codes: 0 ok, 1 not found, 2 usage error, 3 corruption, 4 I/O error or directory in use,
          5 unavailable or timed out, 6 quorum not met, 7 refused by the cluster (bad key, value too
          large, unknown namespace, too many siblings), 8 siblings (get --raw)
        Contact points: --nodes host:port,... or KV_NODES (default 127.0.0.1:2551..2553);
          mutual TLS: --cert FILE.pfx --cert-password PW --ca CA.pem (or KV_CERT, KV_CERT_PASSWORD, KV_CA)
        """;

    /// <summary>The whole tree; <paramref name="o"/> is where its commands read and write.</summary>
    public static Command Build(CliOutput o)
    {
        var root = new Command("kv", "The Kv key-value store: data, data types, cluster administration, storage tools, a local dev cluster.");
        var help = new HelpOption();
        help.Action = new KvHelpAction((HelpAction)help.Action!);
        root.Options.Add(help);
        root.Options.Add(new VersionOption());
        root.Subcommands.Add(Storage(o));
        foreach (var verb in Data(o))
            root.Subcommands.Add(verb);
        foreach (var verb in DataTypes(o))
            root.Subcommands.Add(verb);
        root.Subcommands.Add(Cluster(o));
        root.Subcommands.Add(Dev(o));
        // Verbs of other areas that parse their own arguments, one line each, e.g.:
        // root.Subcommands.Add(Passthrough("backup", "back up the cluster to a directory", "kv backup DIR [--nodes ...]", BackupCommands.RunAsync, o));
        root.Subcommands.Add(Passthrough("cas", "compare-and-swap in a consistent namespace: prints the new value, or the current one (or (absent)) and exits 9", "kv cas NS KEY NEW --expect OLD | --expect-absent", ConsistentCommands.RunAsync, o));
        root.Subcommands.Add(Passthrough("user", "users: add, passwd, del, list (needs admin)", "kv user add|passwd|del|list [NAME] [--new-password P]", SecurityCommands.RunAsync, o));
        root.Subcommands.Add(Passthrough("grant", "grant a user read, write or admin on a namespace or * (needs admin)", "kv grant USER read|write|admin NS|*", SecurityCommands.RunAsync, o));
        root.Subcommands.Add(Passthrough("revoke", "revoke a grant (needs admin)", "kv revoke USER read|write|admin NS|*", SecurityCommands.RunAsync, o));
        root.Subcommands.Add(Passthrough("backup", "back up every partition to a directory (kv backup --to DIR), or check one (kv backup verify DIR)", "kv backup --to DIR | kv backup verify DIR", BackupCommands.RunAsync, o));
        root.Subcommands.Add(Passthrough("restore", "write a backup into a cluster of any size through the normal write path (merged, never overwriting newer writes)", "kv restore --from DIR", BackupCommands.RunAsync, o));
        root.Subcommands.Add(Passthrough("stats", "every member's metrics on one screen (requests, latency, hints, anti-entropy, storage, Akka)", "kv stats [--node HOST:PORT] [--raw]", StatsCommands.RunAsync, o));
        return root;
    }

    // ---------------------------------------------------------------- data

    private static IEnumerable<Command> Data(CliOutput o)
    {
        {
            var (ns, key) = (Ns(), Key());
            var value = new Argument<string?>("VALUE") { Description = "the value (UTF-8); none: read it from stdin", Arity = ArgumentArity.ZeroOrOne };
            var context = new Option<CausalContext?>("--context") { Description = "the context a get printed: replaces what it saw (none: a blind write, siblings if concurrent)", HelpName = "C", CustomParser = r => Parsed(r, DataCommands.ParseContext(One(r), out var c), c) };
            var ttl = new Option<TimeSpan?>("--ttl") { Description = "the value expires that long after the write (1ms..3650d), e.g. 30s, 5m, 2d", HelpName = "duration", CustomParser = r => Parsed<TimeSpan?>(r, TtlCommands.ParseTtl(One(r), out var t), t) };
            var type = new Option<string?>("--type") { Description = "on a register namespace: the value's type (string, int or float)", HelpName = "string|int|float" };
            var contentType = new Option<string?>("--content-type") { Description = "stored with the value (default text/plain; charset=utf-8)", HelpName = "type" };
            var cmd = new Command("put", "Write a value and print its new context.") { ns, key, value, context, ttl, type, contentType };
            var client = new ClientOpts(cmd, Quorums.All);
            cmd.SetAction((r, _) => DataCommands.PutAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(value), r.GetValue(context), r.GetValue(contentType),
                r.GetValue(ttl), r.GetValue(type), o.Stdin, o.Stdout));
            yield return cmd;
        }
        {
            var (ns, key) = (Ns(), Key());
            var raw = new Option<bool>("--raw") { Description = "print the value alone (exit 8 if there are siblings)" };
            var cmd = new Command("get", "Read a key: CONTEXT<TAB>VALUE per sibling, or a data type's plain value; exit 1 if not found.") { ns, key, raw };
            var client = new ClientOpts(cmd, Quorums.All);
            cmd.SetAction((r, _) => DataCommands.GetAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(raw), o.Stdout, o.Stderr));
            yield return cmd;
        }
        {
            var (ns, key) = (Ns(), Key());
            var context = new Option<CausalContext?>("--context") { Description = "the context a get printed (none: delete what is there now)", HelpName = "C", CustomParser = r => Parsed(r, DataCommands.ParseContext(One(r), out var c), c) };
            var cmd = new Command("del", "Delete a key and print the tombstone's context.") { ns, key, context };
            var client = new ClientOpts(cmd, Quorums.All);
            cmd.SetAction((r, _) => DataCommands.DelAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(context), o.Stdout));
            yield return cmd;
        }
        {
            var (ns, key) = (Ns(), Key());
            var cmd = new Command("exists", "Print yes (exit 0) or no (exit 1): whether a live value is there, without reading it.") { ns, key };
            var client = new ClientOpts(cmd, Quorums.All);
            cmd.SetAction((r, _) => TtlCommands.ExistsAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(key)!, o.Stdout));
            yield return cmd;
        }
        {
            var (ns, key) = (Ns(), Key());
            var cmd = new Command("ttl", "Print the time left per value (12.345s, or none without a TTL); exit 1 if not found.") { ns, key };
            var client = new ClientOpts(cmd, Quorums.All);
            cmd.SetAction((r, _) => TtlCommands.TtlAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(key)!, o.Stdout, o.Stderr));
            yield return cmd;
        }
        {
            var ns = Ns();
            var keys = new Argument<string[]>("KEY") { Description = "the keys (more than a batch takes go as several batches)", Arity = ArgumentArity.OneOrMore };
            var cmd = new Command("mget", "Batch read: per key KEY<TAB>CONTEXT<TAB>VALUE per sibling, KEY<TAB>(not found) or KEY<TAB>(error: ...).") { ns, keys };
            var client = new ClientOpts(cmd, Quorums.All);
            cmd.SetAction((r, _) => BatchCommands.MGetAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(keys)!, o.Stdout, o.Stderr));
            yield return cmd;
        }
        {
            var ns = Ns();
            var contentType = new Option<string?>("--content-type") { Description = "stored with every value (default text/plain; charset=utf-8)", HelpName = "type" };
            var cmd = new Command("mput", "Batch write of KEY<TAB>VALUE[<TAB>CONTEXT] lines from stdin (\\t \\n \\\\ \\xHH escapes; a bad line writes nothing); "
                + "prints KEY<TAB>CONTEXT or KEY<TAB>(error: ...) per key.") { ns, contentType };
            var client = new ClientOpts(cmd, Quorums.All);
            cmd.SetAction((r, _) => BatchCommands.MPutAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(contentType), o.Stdin, o.Stdout, o.Stderr));
            yield return cmd;
        }
        {
            var ns = Ns();
            var prefix = new Option<string?>("--prefix") { Description = "keys starting with P", HelpName = "P" };
            var start = new Option<string?>("--start") { Description = "first key (inclusive)", HelpName = "A" };
            var end = new Option<string?>("--end") { Description = "last key (exclusive)", HelpName = "B" };
            var limit = new Option<int?>("--limit")
            {
                Description = "keys per page, 1..10000 (default 1000)",
                HelpName = "N",
                CustomParser = r => int.TryParse(One(r), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n)
                    ? n : Parsed<int?>(r, $"--limit needs a whole number 1..{Kv.Actors.Scans.ScanLimits.MaxLimit}, not '{One(r)}'", null),
            };
            var after = new Option<string?>("--after") { Description = "the token the previous page printed on stderr", HelpName = "TOKEN" };
            var cmd = new Command("scan", "One page of KEY<TAB>VALUE lines per sibling in key order (one replica per partition; --r N: a quorum read of each key); "
                + "the next page's token on stderr.") { ns, prefix, start, end, limit, after };
            var client = new ClientOpts(cmd, Quorums.ReadOnly);
            cmd.SetAction((r, _) => ScanCommands.ScanAsync(client.Settings(r), r.GetValue(ns)!, r.GetValue(prefix), r.GetValue(start), r.GetValue(end), r.GetValue(limit), r.GetValue(after), o.Stdout, o.Stderr));
            yield return cmd;
        }
    }

    // ---------------------------------------------------------------- data types

    private static IEnumerable<Command> DataTypes(CliOutput o)
    {
        foreach (bool incr in new[] { true, false })
        {
            var (ns, key) = (Ns(), Key());
            var by = Whole("BY", "how much (default 1)", 1);
            yield return DataType(incr ? "incr" : "decr", incr ? "Counter: add BY (default 1) and print the new value." : "Counter: subtract BY (default 1) and print the new value.",
                [ns, key, by], (c, r) => DataTypeCommands.CounterAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(by), incr, o.Stdout));
        }
        foreach (bool add in new[] { true, false })
        {
            var (ns, key) = (Ns(), Key());
            var members = Many("MEMBER", add ? "the members to add" : "the members to remove");
            yield return DataType(add ? "sadd" : "srem", add ? "Set: add members and print how many were new." : "Set: remove members and print how many were there.",
                [ns, key, members], (c, r) => DataTypeCommands.SetChangeAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(members)!, add, o.Stdout));
        }
        {
            var (ns, key) = (Ns(), Key());
            yield return DataType("smembers", "Set: one member per line.", [ns, key], (c, r) => DataTypeCommands.SetMembersAsync(c, r.GetValue(ns)!, r.GetValue(key)!, o.Stdout));
        }
        {
            var (ns, key) = (Ns(), Key());
            var member = new Argument<string>("MEMBER") { Description = "the member to look for" };
            yield return DataType("sismember", "Set: print 1 and exit 0 if MEMBER is in the set, else 0 and exit 1.", [ns, key, member],
                (c, r) => DataTypeCommands.SetIsMemberAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(member)!, o.Stdout));
        }
        {
            var (ns, key) = (Ns(), Key());
            yield return DataType("scard", "Set: the number of members.", [ns, key], (c, r) => DataTypeCommands.SetSizeAsync(c, r.GetValue(ns)!, r.GetValue(key)!, o.Stdout));
        }
        {
            var (ns, key) = (Ns(), Key());
            var pairs = new Argument<string[]>("FIELD VALUE") { Description = "field and value pairs", Arity = ArgumentArity.OneOrMore };
            pairs.Validators.Add(r =>
            {
                if (r.Tokens.Count % 2 != 0)
                    r.AddError("usage: kv hset NAMESPACE KEY FIELD VALUE [FIELD VALUE]... (FIELD VALUE pairs)");
            });
            yield return DataType("hset", "Hash: set fields and print how many were new.", [ns, key, pairs],
                (c, r) => DataTypeCommands.HashSetAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(pairs)!, o.Stdout));
        }
        {
            var (ns, key, field) = (Ns(), Key(), Field());
            yield return DataType("hget", "Hash: a field's value; exit 1 if it is not there.", [ns, key, field],
                (c, r) => DataTypeCommands.HashGetAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(field)!, o.Stdout, o.Stderr));
        }
        {
            var (ns, key) = (Ns(), Key());
            yield return DataType("hgetall", "Hash: FIELD<TAB>VALUE lines.", [ns, key], (c, r) => DataTypeCommands.HashGetAllAsync(c, r.GetValue(ns)!, r.GetValue(key)!, o.Stdout));
        }
        {
            var (ns, key) = (Ns(), Key());
            var fields = Many("FIELD", "the fields to delete");
            yield return DataType("hdel", "Hash: delete fields and print how many were there.", [ns, key, fields],
                (c, r) => DataTypeCommands.HashDeleteAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(fields)!, o.Stdout));
        }
        {
            var (ns, key, field) = (Ns(), Key(), Field());
            var by = Whole("BY", "how much (default 1)", 1);
            yield return DataType("hincr", "Hash: add BY (default 1) to a counting field and print its value.", [ns, key, field, by],
                (c, r) => DataTypeCommands.HashIncrementAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(field)!, r.GetValue(by), o.Stdout));
        }
        foreach (bool left in new[] { true, false })
        {
            var (ns, key) = (Ns(), Key());
            var values = Many("VALUE", "the values, pushed in order");
            yield return DataType(left ? "lpush" : "rpush", $"List: push at the {(left ? "head" : "tail")} and print the length.", [ns, key, values],
                (c, r) => DataTypeCommands.ListPushAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(values)!, left, o.Stdout));
        }
        foreach (bool left in new[] { true, false })
        {
            var (ns, key) = (Ns(), Key());
            yield return DataType(left ? "lpop" : "rpop", $"List: remove and print the {(left ? "head" : "tail")}; exit 1 if the list is empty.", [ns, key],
                (c, r) => DataTypeCommands.ListPopAsync(c, r.GetValue(ns)!, r.GetValue(key)!, left, o.Stdout, o.Stderr));
        }
        {
            var (ns, key) = (Ns(), Key());
            var (start, stop) = (Whole("START", "first index (negative: from the end)", null), Whole("STOP", "last index, inclusive (-1: the last)", null));
            yield return DataType("lrange", "List: the elements START..STOP, one per line.", [ns, key, start, stop],
                (c, r) => DataTypeCommands.ListRangeAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(start), r.GetValue(stop), o.Stdout));
        }
        {
            var (ns, key) = (Ns(), Key());
            yield return DataType("llen", "List: the length.", [ns, key], (c, r) => DataTypeCommands.ListLengthAsync(c, r.GetValue(ns)!, r.GetValue(key)!, o.Stdout));
        }
        {
            var (ns, key) = (Ns(), Key());
            var count = Whole("COUNT", "how many to remove: >0 from the head, <0 from the tail, 0 all", null);
            var value = new Argument<string>("VALUE") { Description = "the value to remove" };
            yield return DataType("lrem", "List: remove COUNT elements equal to VALUE and print how many were removed.", [ns, key, count, value],
                (c, r) => DataTypeCommands.ListRemoveAsync(c, r.GetValue(ns)!, r.GetValue(key)!, r.GetValue(count), r.GetValue(value)!, o.Stdout));
        }
    }

    private static Command DataType(string name, string description, Argument[] arguments, Func<ClientSettings, ParseResult, Task<int>> run)
    {
        // A namespace of another data type refuses the verb (exit 7): see docs/data-api/data-types.md.
        var cmd = new Command(name, description);
        foreach (var a in arguments)
            cmd.Arguments.Add(a);
        var client = new ClientOpts(cmd, Quorums.All);
        cmd.SetAction((r, _) => run(client.Settings(r), r));
        return cmd;
    }

    // ---------------------------------------------------------------- cluster

    private static Command Cluster(CliOutput o)
    {
        var cluster = new Command("cluster", "Cluster administration: members, ring, transfers, hints, anti-entropy, leave and down.");
        {
            var plain = Plain();
            var cmd = new Command("status", "Members with status, reachability and partitions owned; the ring; warnings.") { plain };
            var client = new ClientOpts(cmd, Quorums.None);
            cmd.SetAction((r, _) => ClusterCommands.StatusAsync(client.Options(r), o with { Plain = r.GetValue(plain) }));
            cluster.Subcommands.Add(cmd);
        }
        {
            var plain = Plain();
            var cmd = new Command("ring", "Partition -> owner (-> pending owner); on a terminal a compact table of partition ranges.") { plain };
            var client = new ClientOpts(cmd, Quorums.None);
            cmd.SetAction((r, _) => ClusterCommands.RingAsync(client.Options(r), o with { Plain = r.GetValue(plain) }));
            cluster.Subcommands.Add(cmd);
        }
        {
            var (plain, watch) = (Plain(), new Option<bool>("--watch") { Description = "poll each second until no transfer is left and the ring has settled (progress bars on a terminal)" });
            var cmd = new Command("transfers", "Handoff and fill progress per node and partition.") { watch, plain };
            var client = new ClientOpts(cmd, Quorums.None);
            cmd.SetAction((r, _) => ClusterCommands.TransfersAsync(client.Options(r), r.GetValue(watch), o with { Plain = r.GetValue(plain) }));
            cluster.Subcommands.Add(cmd);
        }
        {
            var cmd = new Command("hints", "Hints held per holder and target: count, bytes, oldest, state.");
            var client = new ClientOpts(cmd, Quorums.None);
            cmd.SetAction((r, _) => ClusterCommands.HintsAsync(client.Options(r), o.Stdout));
            cluster.Subcommands.Add(cmd);
        }
        {
            var cmd = new Command("aae", "Anti-entropy: tree age per vnode, last exchange per pair, keys repaired.");
            var client = new ClientOpts(cmd, Quorums.None);
            cmd.SetAction((r, _) => ClusterCommands.AaeAsync(client.Options(r), o.Stdout));
            cluster.Subcommands.Add(cmd);
        }
        {
            var node = NodeArg();
            var wait = new Option<bool>("--wait") { Description = "print progress each second until the node has left" };
            var cmd = new Command("leave", "NODE hands off its partitions and leaves the cluster.") { node, wait };
            var client = new ClientOpts(cmd, Quorums.None);
            cmd.SetAction((r, _) => ClusterCommands.MembershipAsync(client.Options(r), leave: true, r.GetValue(node)!, r.GetValue(wait), o.Stdout, o.Stderr));
            cluster.Subcommands.Add(cmd);
        }
        {
            var node = NodeArg();
            var cmd = new Command("down", "Mark an unreachable NODE down: its partitions are reassigned at once.") { node };
            var client = new ClientOpts(cmd, Quorums.None);
            cmd.SetAction((r, _) => ClusterCommands.MembershipAsync(client.Options(r), leave: false, r.GetValue(node)!, wait: false, o.Stdout, o.Stderr));
            cluster.Subcommands.Add(cmd);
        }
        return cluster;
    }

    private static Option<bool> Plain() => new("--plain") { Description = "plain, parseable text even on a terminal (the default when output is redirected)" };

    private static Argument<string> NodeArg() => new("NODE") { Description = "host:port or akka.tcp://system@host:port" };

    // ---------------------------------------------------------------- storage

    private static Command Storage(CliOutput o)
    {
        var storage = new Command("storage", "Operator tools for one engine directory, offline (the node must not be running on it).");
        Command Sub(string name, string description, Argument[] arguments, Option[] options, Func<ParseResult, string, int> run)
        {
            var dir = new Option<string>("--dir") { Description = "the engine directory", HelpName = "DIR" };
            var commitLog = new Option<string?>("--commit-log") { Description = "a vnode's shared commit log (default DIR/../../commitlog)", HelpName = "DIR" };
            var cmd = new Command(name, description) { dir, commitLog };
            foreach (var a in arguments)
                cmd.Arguments.Add(a);
            foreach (var opt in options)
                cmd.Options.Add(opt);
            cmd.Validators.Add(r =>
            {
                if (r.GetResult(dir) is null)
                    r.AddError("missing required option --dir");
            });
            cmd.SetAction(r =>
            {
                string d = r.GetValue(dir)!;
                StorageCommands.CheckNotInSharedLog(name, d, r.GetValue(commitLog));
                return run(r, d);
            });
            return cmd;
        }
        Option<bool> Sync() => new("--sync") { Description = "sync the log before returning" };
        Option<string?> Text(string name, string description, string helpName) => new(name) { Description = description, HelpName = helpName };
        {
            var key = new Argument<string?>("KEY") { Description = "the key (UTF-8); KEY and VALUE, or neither to read KEY<TAB>VALUE lines from stdin", Arity = ArgumentArity.ZeroOrOne };
            var value = new Argument<string?>("VALUE") { Description = "the value (UTF-8)", Arity = ArgumentArity.ZeroOrOne };
            var sync = Sync();
            storage.Subcommands.Add(Sub("put", "Store a value, or bulk load KEY<TAB>VALUE lines from stdin (a bad line loads nothing).", [key, value], [sync],
                (r, dir) => StorageCommands.Put(dir, r.GetValue(key), r.GetValue(value), r.GetValue(sync), o.Stdin, o.Stdout)));
        }
        {
            var key = new Argument<string>("KEY") { Description = "the key (UTF-8)" };
            storage.Subcommands.Add(Sub("get", "Print the value (exit 1 if absent).", [key], [], (r, dir) => StorageCommands.Get(dir, r.GetValue(key)!, o.Stdout)));
        }
        {
            var key = new Argument<string>("KEY") { Description = "the key (UTF-8)" };
            var sync = Sync();
            storage.Subcommands.Add(Sub("del", "Delete a key.", [key], [sync], (r, dir) => StorageCommands.Del(dir, r.GetValue(key)!, r.GetValue(sync))));
        }
        {
            var (prefix, from, to) = (Text("--prefix", "keys starting with P", "P"), Text("--from", "first key (inclusive)", "K"), Text("--to", "last key (exclusive)", "K"));
            var limit = new Option<long?>("--limit")
            {
                Description = "at most N lines",
                HelpName = "N",
                CustomParser = r => long.TryParse(One(r), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long n) && n >= 0
                    ? n : Parsed<long?>(r, $"--limit needs a non-negative whole number, not '{One(r)}'", null),
            };
            storage.Subcommands.Add(Sub("scan", "Print KEY<TAB>VALUE lines in key order.", [], [prefix, from, to, limit],
                (r, dir) => StorageCommands.Scan(dir, r.GetValue(prefix), r.GetValue(from), r.GetValue(to), r.GetValue(limit), o.Stdout)));
        }
        storage.Subcommands.Add(Sub("flush", "Write the memtable to a table.", [], [], (_, dir) => StorageCommands.Flush(dir, o.Stdout)));
        {
            var (from, to) = (Text("--from", "first key (inclusive)", "K"), Text("--to", "last key (exclusive)", "K"));
            storage.Subcommands.Add(Sub("compact", "Compact a key range (all by default).", [], [from, to],
                (r, dir) => StorageCommands.Compact(dir, r.GetValue(from), r.GetValue(to), o.Stdout)));
        }
        storage.Subcommands.Add(Sub("verify", "Check every block of every file (exit 3 on corruption).", [], [],
            (r, dir) => StorageCommands.Verify(dir, r.GetValue<string?>("--commit-log"), o.Stdout, o.Stderr)));
        storage.Subcommands.Add(Sub("stats", "Levels, files, counters.", [], [], (_, dir) => StorageCommands.Stats(dir, o.Stdout)));
        return storage;
    }

    // ---------------------------------------------------------------- dev

    private static Command Dev(CliOutput o)
    {
        var dev = new Command("dev", "A local development cluster of node processes, and its certificates.");
        {
            var nodes = WholeOption("--nodes", "how many nodes, 1..9", 3);
            var dir = new Option<string?>("--dir") { Description = "data, logs and pid files (default ./dev)", HelpName = "DIR" };
            var hocon = new Option<string?>("--hocon") { Description = "the directory of node1.conf.. (default: hocon/ found upwards)", HelpName = "DIR" };
            var timeout = DurationOption("--timeout", "how long to wait until the ring settles (default 120s)");
            var cmd = new Command("start", "Start node processes from hocon/ and wait until all are Up and the ring has settled.") { nodes, dir, hocon, timeout };
            cmd.SetAction((r, _) => DevCommands.StartAsync((int)Math.Min(r.GetValue(nodes), int.MaxValue), r.GetValue(dir), r.GetValue(hocon), r.GetValue(timeout), o.Stdout, o.Stderr));
            dev.Subcommands.Add(cmd);
        }
        {
            var dir = new Option<string?>("--dir") { Description = "as given to start (default ./dev)", HelpName = "DIR" };
            var kill = new Option<bool>("--kill") { Description = "kill -9 instead of SIGTERM" };
            var cmd = new Command("stop", "Stop the nodes (SIGTERM one by one, last first, so each hands off to the ones still running).") { dir, kill };
            cmd.SetAction((r, _) => DevCommands.StopAsync(r.GetValue(dir), r.GetValue(kill), o.Stdout));
            dev.Subcommands.Add(cmd);
        }
        {
            var dir = new Option<string?>("--dir") { Description = "where to write them (default dev/certs)", HelpName = "DIR" };
            var nodes = WholeOption("--nodes", "node certificates node1..N.pfx, 1..99", 3);
            var password = new Option<string>("--password") { Description = $"of the .pfx files (default {DevCertificates.DefaultPassword})", HelpName = "PW", DefaultValueFactory = _ => DevCertificates.DefaultPassword };
            var days = WholeOption("--days", "validity, 1..3650", 365);
            var force = new Option<bool>("--force") { Description = "replace existing files (a new CA: certificates from the old one stop chaining)" };
            var cmd = new Command("certs", "A development CA (ca.pem, ca.pfx) and node1..N.pfx, client.pfx for mutual TLS (never overwrites without --force).") { dir, nodes, password, days, force };
            cmd.SetAction(r => DevCommands.Certs(r.GetValue(dir), r.GetValue(nodes), r.GetValue(password)!, r.GetValue(days), r.GetValue(force), o.Stdout));
            dev.Subcommands.Add(cmd);
        }
        return dev;
    }

    // ---------------------------------------------------------------- verbs with their own parser

    /// <summary>
    /// A verb whose arguments its own code parses (the `RunAsync(verb, args, stdout, stderr)` entry of
    /// a *Commands.cs file): every token after <paramref name="name"/> goes to <paramref name="run"/>
    /// as it is, except --help, which prints <paramref name="description"/> and <paramref name="usage"/>.
    /// </summary>
    public static Command Passthrough(string name, string description, string usage, Func<string, string[], TextWriter, TextWriter, Task<int>> run, CliOutput o)
    {
        var rest = new Argument<string[]>("ARGS") { Description = "usage: " + usage, Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command(name, description) { rest };
        cmd.TreatUnmatchedTokensAsErrors = false;
        cmd.SetAction((r, _) => run(name, [.. r.GetValue(rest) ?? [], .. r.UnmatchedTokens], o.Stdout, o.Stderr));
        return cmd;
    }

    // ---------------------------------------------------------------- building blocks

    private static Argument<string> Ns() => new("NS") { Description = "the namespace (bucket): default, or one from kv.namespaces" };

    private static Argument<string> Key() => new("KEY") { Description = "the key (UTF-8)" };

    private static Argument<string> Field() => new("FIELD") { Description = "the hash field" };

    private static Argument<string[]> Many(string name, string description) => new(name) { Description = description, Arity = ArgumentArity.OneOrMore };

    /// <summary>A whole-number argument (negative allowed); optional when <paramref name="defaultValue"/> is given.</summary>
    private static Argument<long> Whole(string name, string description, long? defaultValue)
    {
        var a = new Argument<long>(name)
        {
            Description = description,
            Arity = defaultValue is null ? ArgumentArity.ExactlyOne : ArgumentArity.ZeroOrOne,
            CustomParser = r => r.Tokens.Count == 0 ? defaultValue ?? 0 : Parsed(r, DataTypeCommands.ParseWhole(One(r), name, out long n), n),
        };
        if (defaultValue is { } d)
            a.DefaultValueFactory = _ => d;
        return a;
    }

    /// <summary>A non-negative whole-number option with a default (its range is the handler's to check).</summary>
    private static Option<long> WholeOption(string name, string description, long defaultValue) => new(name)
    {
        Description = description + $" (default {defaultValue})",
        HelpName = "N",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r => r.Tokens.Count == 0 ? defaultValue
            : long.TryParse(One(r), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)
            ? n : Parsed(r, $"{name} needs a whole number, not '{One(r)}'", 0L),
    };

    private static Option<TimeSpan?> DurationOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "duration",
        CustomParser = r => Parsed<TimeSpan?>(r, ClientArgs.ParseDuration(name[2..], One(r), out var d), d),
    };

    private static string One(ArgumentResult r) => r.Tokens.Count > 0 ? r.Tokens[0].Value : "";

    /// <summary>The value, or (an error message given) the error recorded on <paramref name="r"/> and the default.</summary>
    private static T? Parsed<T>(ArgumentResult r, string? error, T? value)
    {
        if (error is null)
            return value;
        r.AddError(error);
        return default;
    }

    private enum Quorums
    {
        None,
        ReadOnly,
        All,
    }

    /// <summary>The options every command that talks to a cluster takes, added to one command.</summary>
    private sealed class ClientOpts
    {
        private readonly Option<string?> _nodes = new("--nodes") { Description = "contact points (default KV_NODES, else 127.0.0.1:2551,2552,2553)", HelpName = "host:port,..." };
        private readonly Option<string?> _system = new("--system") { Description = "the cluster's actor system name (default kv)", HelpName = "name" };
        private readonly Option<string?> _cert = new("--cert") { Description = "mutual TLS: this client's certificate (or KV_CERT)", HelpName = "FILE.pfx" };
        private readonly Option<string?> _password = new("--cert-password") { Description = "the .pfx password (or KV_CERT_PASSWORD)", HelpName = "PW" };
        private readonly Option<string?> _ca = new("--ca") { Description = "mutual TLS: the CA to trust (or KV_CA)", HelpName = "CA.pem" };
        private readonly Option<string?> _user = new("--user") { Description = "log in as this user (or KV_USER; docs/security.md)", HelpName = "NAME" };
        private readonly Option<string?> _userPassword = new("--password") { Description = "the user's password (or KV_PASSWORD)", HelpName = "P" };
        private readonly Option<TimeSpan?> _timeout = DurationOption("--timeout", "the request's timeout, e.g. 5s");
        private readonly Dictionary<string, Option<int?>> _quorums = [];

        public ClientOpts(Command cmd, Quorums quorums)
        {
            var names = quorums switch
            {
                Quorums.All => new[] { ("r", "read quorum"), ("w", "write quorum"), ("dw", "durable-write quorum"), ("pr", "primary read quorum"), ("pw", "primary write quorum") },
                Quorums.ReadOnly => [("r", "a quorum read of each key")],
                _ => [],
            };
            foreach (var (name, what) in names)
            {
                var q = new Option<int?>("--" + name)
                {
                    Description = what + " (overrides the namespace's)",
                    HelpName = "N",
                    CustomParser = r => Parsed<int?>(r, ClientArgs.ParseQuorum(name, One(r), out int n), n),
                };
                _quorums[name] = q;
                cmd.Options.Add(q);
            }
            cmd.Options.Add(_timeout);
            cmd.Options.Add(_nodes);
            cmd.Options.Add(_system);
            cmd.Options.Add(_cert);
            cmd.Options.Add(_password);
            cmd.Options.Add(_ca);
            cmd.Options.Add(_user);
            cmd.Options.Add(_userPassword);
        }

        public KvClientOptions Options(ParseResult r) =>
            ClientArgs.Options(r.GetValue(_nodes), r.GetValue(_system), r.GetValue(_cert), r.GetValue(_password), r.GetValue(_ca), r.GetValue(_timeout), r.GetValue(_user), r.GetValue(_userPassword));

        public ClientSettings Settings(ParseResult r)
        {
            int? Q(string name) => _quorums.TryGetValue(name, out var q) ? r.GetValue(q) : null;
            return new ClientSettings(Options(r), new RequestOptions { R = Q("r"), W = Q("w"), DW = Q("dw"), PR = Q("pr"), PW = Q("pw"), Timeout = r.GetValue(_timeout) });
        }
    }

    // ---------------------------------------------------------------- usage errors

    /// <summary>
    /// What is wrong with the command line, worded for a person (with "did you mean" for a
    /// misspelt command or option), or null if it can run; --help and the like always run.
    /// </summary>
    public static string? UsageError(ParseResult r)
    {
        if (r.Action is { ClearsParseErrors: true })
            return null;
        var leaf = r.CommandResult;
        var cmd = leaf.Command;
        string path = PathOf(leaf);
        // The first token nothing took, or that looks like an option but an argument took (an
        // unknown option is otherwise taken as a value): after "--" every token is a value.
        var optionTokens = new HashSet<Token>(ReferenceEqualityComparer.Instance);
        var argumentTokens = new HashSet<Token>(ReferenceEqualityComparer.Instance);
        for (SymbolResult? s = leaf; s is CommandResult c; s = c.Parent)
        {
            foreach (var child in c.Children)
            {
                if (child is OptionResult opt)
                    optionTokens.UnionWith(opt.Tokens);
                else if (child is ArgumentResult arg)
                    argumentTokens.UnionWith(arg.Tokens);
            }
        }
        if (cmd.TreatUnmatchedTokensAsErrors)
        {
            foreach (var token in r.Tokens)
            {
                if (token.Type == TokenType.DoubleDash)
                    break;
                if (token.Type != TokenType.Argument || optionTokens.Contains(token))
                    continue;
                string value = token.Value;
                bool taken = argumentTokens.Contains(token);
                if (value.StartsWith("--", StringComparison.Ordinal) && value.Length > 2 || !taken && value.StartsWith('-') && value.Length > 1 && !char.IsAsciiDigit(value[1]))
                {
                    string name = value.Split('=', 2)[0];
                    return $"unknown option {name}{DidYouMean(name, OptionNames(leaf))} ({path} --help lists them)";
                }
                if (taken)
                    continue;
                if (cmd.Subcommands.Count > 0)
                {
                    string what = cmd.Parents.Any() ? $"unknown {string.Join(' ', path.Split(' ').Skip(1))} command" : "unknown command";
                    return $"{what} '{value}'{DidYouMean(value, cmd.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))} ({path} --help lists them)";
                }
                return $"unexpected argument '{value}'; usage: {Usage(leaf)}";
            }
        }
        if (r.UnmatchedTokens.Count > 0 && cmd.TreatUnmatchedTokensAsErrors)
            return $"unexpected argument '{r.UnmatchedTokens[0]}'; usage: {Usage(leaf)}";
        if (cmd.Subcommands.Count > 0 && cmd.Action is null)
            return $"missing {string.Join(' ', path.Split(' ').Skip(1))} command ({string.Join(", ", cmd.Subcommands.Select(c => c.Name))}; {path} --help)";
        for (SymbolResult? s = leaf; s is CommandResult c; s = c.Parent)
        {
            foreach (var opt in c.Children.OfType<OptionResult>())
            {
                if (!opt.Implicit && opt.Tokens.Count == 0 && opt.Option.Arity.MinimumNumberOfValues > 0)
                    return $"option {opt.Option.Name} needs a value";
            }
        }
        foreach (var arg in cmd.Arguments)
        {
            int given = r.GetResult(arg)?.Tokens.Count ?? 0;
            if (given < arg.Arity.MinimumNumberOfValues)
                return $"{cmd.Name} needs {arg.Name}; usage: {Usage(leaf)}";
        }
        return r.Errors.Count > 0 ? r.Errors[0].Message : null;
    }

    /// <summary>"kv cluster leave NODE [options]": the command's path and arguments.</summary>
    public static string Usage(CommandResult leaf)
    {
        var parts = new List<string> { PathOf(leaf) };
        foreach (var a in leaf.Command.Arguments)
        {
            string name = a.Arity.MaximumNumberOfValues > 1 ? a.Name + "..." : a.Name;
            parts.Add(a.Arity.MinimumNumberOfValues == 0 ? $"[{name}]" : name);
        }
        parts.Add("[options]");
        return string.Join(' ', parts);
    }

    private static string PathOf(CommandResult leaf)
    {
        var names = new List<string>();
        for (SymbolResult? s = leaf; s is CommandResult c; s = c.Parent)
            names.Add(c.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    private static IEnumerable<string> OptionNames(CommandResult leaf)
    {
        for (SymbolResult? s = leaf; s is CommandResult c; s = c.Parent)
        {
            foreach (var opt in c.Command.Options)
            {
                if (!opt.Hidden && (ReferenceEquals(c, leaf) || opt.Recursive))
                    yield return opt.Name;
            }
        }
    }

    /// <summary>"; did you mean 'get'?" for the nearest candidates (edit distance with transpositions), or "".</summary>
    public static string DidYouMean(string token, IEnumerable<string> candidates)
    {
        var scored = candidates.Distinct().Select(c => (Name: c, Distance: Distance(token, c))).ToList();
        int limit = Math.Clamp(token.TrimStart('-').Length / 3, 1, 2);
        var near = scored.Where(s => s.Distance <= limit).ToList();
        if (near.Count == 0)
            near = scored.Where(s => token.Length >= 2 && s.Name.StartsWith(token, StringComparison.Ordinal)).ToList();
        if (near.Count == 0)
            return "";
        int best = near.Min(s => s.Distance);
        var names = near.Where(s => s.Distance == best).Take(3).Select(s => $"'{s.Name}'").ToList();
        return $"; did you mean {string.Join(" or ", names)}?";
    }

    /// <summary>The optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }

    /// <summary>The standard help, and after the top level's the exit codes and contact-point settings.</summary>
    private sealed class KvHelpAction(HelpAction inner) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            inner.Invoke(parseResult);
            if (parseResult.CommandResult.Parent is null)
                parseResult.InvocationConfiguration.Output.WriteLine(ExitCodesHelp);
            return ExitCodes.Ok;
        }
    }
}
