using System.Globalization;
using Kv.Actors.Backup;
using Kv.Client;

namespace Kv.Cli;

/// <summary>
/// `kv backup --to DIR`, `kv backup verify DIR`, `kv restore --from DIR`: a cluster's backup (one
/// consistent snapshot per partition, checksummed files and a manifest), its verification, and its
/// restore into a cluster of any size (merged, never overwriting newer writes). Progress goes to
/// stderr: a bar on a terminal, plain lines otherwise.
/// </summary>
public static class BackupCommands
{
    public const string Usage = "usage: kv backup --to DIR [--concurrency 4] | kv backup verify DIR | kv restore --from DIR [--concurrency 4] [--w N] [--dw N]";

    /// <summary>Runs `backup` or `restore` (the tokens after the verb in <paramref name="args"/>).</summary>
    public static Task<int> RunAsync(string verb, string[] args, TextWriter stdout, TextWriter stderr) => verb switch
    {
        "backup" when args.Length > 0 && args[0] == "verify" => Task.FromResult(Verify(args[1..], stdout, stderr)),
        "backup" => BackupAsync(args, stdout, stderr),
        "restore" => RestoreAsync(args, stdout, stderr),
        _ => throw new CliException(Usage),
    };

    private static int Concurrency(CliArgs a)
    {
        string? text = a.Option("concurrency");
        if (text is null)
            return 4;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 64
            ? n
            : throw new CliException($"--concurrency needs a whole number 1..64, not '{text}'");
    }

    private static async Task<int> BackupAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args);
        var options = ClientArgs.Options(a);
        string dir = a.Option("to") ?? throw new CliException(Usage);
        int concurrency = Concurrency(a);
        a.Done(0);
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var manifest = await ProgressDisplay.RunAsync(stderr, "backup", show =>
            client.BackupAsync(dir, new SyncProgress<KvBackupProgress>(p => show(p.PartitionsDone, p.Partitions, $"{p.PartitionsDone}/{p.Partitions} partitions, {p.Keys} keys")), concurrency))
            .ConfigureAwait(false);
        stdout.WriteLine($"backed up {manifest.TotalKeys} keys in {manifest.Files.Count} partitions from {string.Join(", ", manifest.SourceNodes)} to {dir} in {clock.Elapsed.TotalSeconds:0.0} s");
        return ExitCodes.Ok;
    }

    private static int Verify(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args);
        if (a.Positional.Count != 1)
            throw new CliException(Usage);
        string dir = a.Positional[0];
        a.Done(1);
        var result = BackupVerifier.Verify(dir);
        return Report(result, dir, stdout, stderr);
    }

    /// <summary>Prints a verification: each bad file (exit 3), or a summary (exit 0).</summary>
    private static int Report(BackupVerification result, string dir, TextWriter stdout, TextWriter stderr)
    {
        foreach (var problem in result.Problems)
            stderr.WriteLine($"corrupt: {problem.File}: {problem.Detail}");
        if (!result.Ok)
        {
            stderr.WriteLine($"backup {dir}: {result.Problems.Count} bad file(s)");
            return ExitCodes.Corruption;
        }
        var m = result.Manifest!;
        stdout.WriteLine($"backup {dir}: ok: {m.Files.Count} files, {m.TotalKeys} keys, ring size {m.RingSize}, namespaces {string.Join(", ", m.Namespaces)}, made {m.Created:u}");
        return ExitCodes.Ok;
    }

    private static async Task<int> RestoreAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args);
        var options = ClientArgs.Options(a);
        string dir = a.Option("from") ?? throw new CliException(Usage);
        int concurrency = Concurrency(a);
        var request = new Kv.Actors.Coordinators.RequestOptions { W = ClientArgs.Quorum(a, "w"), DW = ClientArgs.Quorum(a, "dw") };
        a.Done(0);
        // Verified before connecting: a damaged backup is refused with every bad file named, and nothing is written.
        var verified = BackupVerifier.Verify(dir);
        if (!verified.Ok)
        {
            Report(verified, dir, TextWriter.Null, stderr);
            stderr.WriteLine("restore refused: the backup is damaged; nothing was written");
            return ExitCodes.Corruption;
        }
        await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await ProgressDisplay.RunAsync(stderr, "restore", show =>
            client.RestoreAsync(dir, new SyncProgress<KvRestoreProgress>(p => show(p.Merged + p.Failed, p.Total, $"{p.Merged}/{p.Total} keys merged, {p.Failed} failed")), concurrency, request))
            .ConfigureAwait(false);
        foreach (string error in result.Errors)
            stderr.WriteLine($"failed: {error}");
        stdout.WriteLine($"restored {result.Merged} keys from {dir} in {clock.Elapsed.TotalSeconds:0.0} s" + (result.Failed > 0 ? $"; {result.Failed} failed" : ""));
        return result.Failed > 0 ? ExitCodes.QuorumNotMet : ExitCodes.Ok;
    }
}
