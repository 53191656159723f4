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
          large, unknown namespace, too many siblings), 8 siblings (get --raw)
        """;

    public static int Main(string[] args) => Run(args, Console.In, Console.Out, Console.Error);

    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            (args.Length == 0 ? stderr : stdout).WriteLine(Usage);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
        }
        try
        {
            return args[0] switch
            {
                "storage" => StorageCommands.Run(args[1..], stdin, stdout, stderr),
                "mget" or "mput" => BatchCommands.RunAsync(args[0], args[1..], stdin, stdout, stderr).GetAwaiter().GetResult(),
                "put" or "get" or "del" => DataCommands.RunAsync(args[0], args[1..], stdin, stdout, stderr).GetAwaiter().GetResult(),
                "exists" or "ttl" => TtlCommands.RunAsync(args[0], args[1..], stdout, stderr).GetAwaiter().GetResult(),
                "scan" => ScanCommands.RunAsync(args[1..], stdout, stderr).GetAwaiter().GetResult(),
                var verb when DataTypeCommands.Verbs.Contains(verb) => DataTypeCommands.RunAsync(verb, args[1..], stdout, stderr).GetAwaiter().GetResult(),
                "backup" or "restore" => BackupCommands.RunAsync(args[0], args[1..], stdout, stderr).GetAwaiter().GetResult(),
                "cluster" => ClusterCommands.RunAsync(args[1..], stdout, stderr).GetAwaiter().GetResult(),
                "dev" => DevCommands.RunAsync(args[1..], stdout, stderr).GetAwaiter().GetResult(),
                _ => throw new CliException($"unknown command '{args[0]}' (kv --help lists them)"),
            };
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
