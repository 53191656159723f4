namespace Kv.Cli;

/// <summary>The `kv` command. Areas: `storage` (operator tools for one engine directory).</summary>
public static class Program
{
    public const string Usage = """
        usage: kv <area> <command> [options]

        storage tools (one engine directory, offline):
          kv storage put KEY VALUE --dir DIR [--sync]   store a value (UTF-8)
          kv storage put --dir DIR [--sync]             bulk load KEY<TAB>VALUE lines from stdin
          kv storage get KEY --dir DIR                  print the value (exit 1 if absent)
          kv storage del KEY --dir DIR [--sync]         delete a key
          kv storage scan --dir DIR [--prefix P] [--from K] [--to K] [--limit N]
                                                        print KEY<TAB>VALUE lines in key order
          kv storage flush --dir DIR                    write the memtable to a table
          kv storage compact --dir DIR [--from K] [--to K]
                                                        compact a key range (all by default)
          kv storage verify --dir DIR                   check every block of every file
          kv storage stats --dir DIR                    levels, files, counters

        data (contact points: --nodes host:port,... or KV_NODES; default the local nodes 2551..2553):
          kv put NS KEY [VALUE] [--context C] [--ttl 30s]
                                                      write (no VALUE: read stdin); prints the new context;
                                                      --ttl: the value expires that long after the write (1ms..3650d)
          kv get NS KEY [--raw]                       print CONTEXT<TAB>VALUE per sibling (--raw: the value only)
          kv del NS KEY [--context C]                 delete (without --context: what is there now)
          kv exists NS KEY                            print yes (exit 0) or no (exit 1): a live value, without reading it
          kv ttl NS KEY                               time left per value (12.345s, or none without a TTL); exit 1 if not found
            quorum overrides for all of these: --r N --w N --dw N --pr N --pw N --timeout 5s
          kv mget NS KEY [KEY...]                     batch read: per key KEY<TAB>CONTEXT<TAB>VALUE per sibling,
                                                      KEY<TAB>(not found) or KEY<TAB>(error: ...)
          kv mput NS                                  batch write of KEY<TAB>VALUE[<TAB>CONTEXT] lines from stdin
                                                      (\t \n \\ \xHH escapes); per key KEY<TAB>CONTEXT or KEY<TAB>(error: ...)
          kv scan NS [--prefix P | --start A --end B] [--limit N] [--after TOKEN] [--r N] [--timeout 30s]
                                                      KEY<TAB>VALUE per sibling in key order (limit 1..10000, default
                                                      1000; one replica per partition, --r N: a quorum read of each key);
                                                      the next page's token (for --after) on stderr

        consistent namespaces (consistent = on: get/put/del/incr/decr are linearizable; docs/consistency.md):
          kv cas NS KEY NEW --expect OLD              set KEY to NEW if it holds OLD; prints NEW (exit 0), or the
          kv cas NS KEY NEW --expect-absent           current value or (absent) and exits 9 on a mismatch

        data types (namespaces with a datatype; kv get prints their plain value; docs/data-api/data-types.md):
          kv incr NS KEY [BY]  /  kv decr NS KEY [BY] counter: add / subtract (default 1), print the new value
          kv sadd NS KEY M...  /  kv srem NS KEY M... set: add / remove members, print how many changed
          kv smembers NS KEY                          set: one member per line
          kv sismember NS KEY M                       set: print 1 and exit 0 if a member, else 0 and exit 1
          kv scard NS KEY                             set: number of members
          kv put NS KEY VALUE --type string|int|float register: a typed value (kv get prints it)
          kv hset NS KEY FIELD VALUE [FIELD VALUE]... hash: set fields (prints how many were new)
          kv hget NS KEY FIELD  /  kv hgetall NS KEY  hash: a field's value / FIELD<TAB>VALUE lines
          kv hdel NS KEY FIELD...  /  kv hincr NS KEY FIELD [BY]   hash: delete fields / count in a field
          kv lpush|rpush NS KEY V...                  list: push at the head / tail, print the length
          kv lpop|rpop NS KEY                         list: remove and print the head / tail (exit 1: empty)
          kv lrange NS KEY START STOP  /  kv llen NS KEY  /  kv lrem NS KEY COUNT VALUE

        cluster:
          kv cluster status                           members, reachability, partitions owned, warnings
          kv cluster ring                             partition -> owner (-> pending owner)
          kv cluster transfers [--watch]              handoff and fill progress (--watch: until none are left)
          kv cluster hints                            hints held per holder and target (count, bytes, oldest, state)
          kv cluster aae                              anti-entropy: tree age per vnode, last exchange per pair, keys repaired
          kv cluster leave NODE [--wait]              NODE hands off its partitions and leaves (host:port)
          kv cluster down NODE                        mark an unreachable NODE down
          kv stats [--node HOST:PORT] [--raw]         every member's metrics on one screen (requests, latency, hints,
                                                      anti-entropy, handoff, storage, members); --raw: NODE NAME{LABELS} VALUE lines

        users and grants (docs/security.md; need admin, except passwd of one's own user):
          kv user add NAME [--new-password P]         add a user (no grants); the password from stdin without --new-password
          kv user passwd NAME [--new-password P]      change a password (its tokens stop working)
          kv user del NAME  /  kv user list           delete a user / USER<TAB>GRANTS lines
          kv grant USER read|write|admin NS|*         allow reads / writes of a namespace (* = all); admin = everything
          kv revoke USER read|write|admin NS|*        take a grant away
          credentials for every cluster command: --user NAME --password P (or KV_USER, KV_PASSWORD)

        backup and restore (docs/ops/backup.md):
          kv backup --to DIR [--concurrency 4]        a consistent snapshot of every partition (all siblings and
                                                      causal contexts), checksummed files and MANIFEST.json
          kv backup verify DIR                        check the manifest and every file; names each bad one (exit 3)
          kv restore --from DIR [--concurrency 4] [--w N] [--dw N]
                                                      verify, then merge every object into this cluster (any size):
                                                      newer writes and siblings survive; a damaged backup is refused

        local development cluster:
          kv dev start [--nodes 3] [--dir dev]        start node processes from hocon/, wait until the ring settles
          kv dev stop [--dir dev] [--kill]            stop them (SIGTERM one by one, last first; --kill: kill -9)
          kv dev certs [--dir dev/certs] [--nodes 3] [--password kv-dev] [--days 365] [--force]
                                                      a development CA (ca.pem, ca.pfx) and node1..N.pfx, client.pfx
                                                      for mutual TLS (never overwrites without --force)

        exit codes: 0 ok, 1 not found, 2 usage error, 3 corruption, 4 I/O error or directory in use,
          5 unavailable or timed out, 6 quorum not met, 7 refused by the cluster (bad key, value too
          large, unknown namespace, too many siblings), 8 siblings (get --raw), 9 cas mismatch,
          10 not authenticated (login refused or needed), 11 not allowed (the user's grants)
        """;

    public static int Main(string[] args)
    {
        bool terminal = !Console.IsOutputRedirected;
        return Run(args, Console.In, Console.Out, Console.Error, terminal ? Spectre.Console.AnsiConsole.Console : null);
    }

    /// <summary>Runs `kv` with <paramref name="args"/>: plain text output (what scripts and tests read).</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr) => Run(args, stdin, stdout, stderr, null);

    /// <summary>Runs `kv`; <paramref name="terminal"/>, when given, is where tables and progress bars are drawn (stdout is a terminal).</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, Spectre.Console.IAnsiConsole? terminal)
    {
        if (args.Length == 0)
        {
            stderr.WriteLine(Usage);
            return ExitCodes.Usage;
        }
        if (args[0] == "help")
            args = [.. args[1..], "--help"];
        try
        {
            var root = CommandTree.Build(new CliOutput(stdin, stdout, stderr, terminal));
            var parsed = root.Parse(args, CommandTree.Parser);
            if (CommandTree.UsageError(parsed) is { } error)
            {
                stderr.WriteLine($"error: {error}");
                return ExitCodes.Usage;
            }
            return parsed.Invoke(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Kv.Client.QuorumNotMetException e)
        {
            stderr.WriteLine($"quorum not met: {e.Message}");
            return ExitCodes.QuorumNotMet;
        }
        catch (Kv.Client.KvAuthenticationException e)
        {
            stderr.WriteLine($"not authenticated: {e.Message}");
            return ExitCodes.NotAuthenticated;
        }
        catch (Kv.Client.KvAccessDeniedException e)
        {
            stderr.WriteLine($"not allowed: {e.Message}");
            return ExitCodes.NotAllowed;
        }
        catch (Kv.Client.KvException e) when (e is Kv.Client.KvTimeoutException or Kv.Client.KvUnavailableException)
        {
            stderr.WriteLine($"unavailable: {e.Message}");
            return ExitCodes.Unavailable;
        }
        catch (Kv.Client.KvException e)
        {
            stderr.WriteLine($"refused: {e.Message}");
            return ExitCodes.Refused;
        }
        catch (Kv.Actors.Backup.BackupCorruptionException e)
        {
            stderr.WriteLine($"corruption: {e.Message}");
            return ExitCodes.Corruption;
        }
        catch (Kv.Storage.StorageCorruptionException e)
        {
            stderr.WriteLine($"corruption: {e.Message}");
            return ExitCodes.Corruption;
        }
        catch (Kv.Storage.StorageLockedException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.IoError;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.IoError;
        }
    }
}
