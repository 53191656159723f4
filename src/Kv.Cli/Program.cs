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

        exit codes: 0 ok, 1 not found, 2 usage error, 3 corruption, 4 I/O error or directory in use
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
                _ => throw new CliException($"unknown area '{args[0]}' (try: kv storage ...; kv --help)"),
            };
        }
        catch (CliException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
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
