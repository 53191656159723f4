using System.Globalization;
using Akka.Actor;
using Akka.Event;
using Kv.Actors.Ring;

namespace Kv.Actors.Backup;

/// <summary>Published when a scheduled snapshot ended: its directory and objects, or why it failed.</summary>
public sealed record BackupSnapshotTaken(string Directory, long Keys, string? Error);

/// <summary>
/// Scheduled snapshots (kv.backup.schedule): every interval, once the node serves, the partitions
/// this node owns are written, each from one snapshot of its vnode, in the format of `kv backup`
/// (<see cref="BackupFile"/>, <see cref="BackupManifest"/>) into a new directory named by the UTC
/// time under kv.backup.directory, first as NAME.partial, renamed when its manifest is written.
/// Then the oldest complete snapshots beyond kv.backup.keep are deleted. One snapshot at a time
/// (a tick while one runs is skipped); the writing runs outside the mailbox.
/// </summary>
public sealed class BackupScheduler : RingFollower, IWithTimers
{
    private const string Partial = ".partial";
    private const string TimeFormat = "yyyyMMdd'T'HHmmss'Z'";
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private readonly BackupOptions _options;
    private readonly string _directory;
    private readonly string _self;
    private bool _running;

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    /// <param name="options">kv.backup.*.</param>
    /// <param name="directory">Where the snapshots go.</param>
    /// <param name="self">This node's address.</param>
    public BackupScheduler(BackupOptions options, string directory, string self)
    {
        (_options, _directory, _self) = (options, directory, self);
        Receive<Tick>(_ => OnTick());
        Receive<BackupSnapshotTaken>(done =>
        {
            _running = false;
            if (done.Error is null)
                Log.Info($"backup: snapshot of {done.Keys} objects in {done.Directory}");
            else
                Log.Warning($"backup: scheduled snapshot failed: {done.Error}");
            Context.System.EventStream.Publish(done);
        });
    }

    protected override void PreStart()
    {
        base.PreStart();
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _options.Schedule!.Value);
    }

    private void OnTick()
    {
        if (_running || KnownRing is not { } ring || !Serving || !ring.Settled)
            return;
        _running = true;
        var partitions = Enumerable.Range(0, ring.Size).Where(p => ring.Owners[p] == _self).ToList();
        var (system, self, directory, keep, node) = (Context.System, Self, _directory, _options.Keep, _self);
        Task.Run(() => SnapshotAsync(system, directory, node, ring, partitions, keep)).PipeTo(self);
    }

    private static async Task<BackupSnapshotTaken> SnapshotAsync(ActorSystem system, string root, string node, Ring.Ring ring, List<int> partitions, int keep)
    {
        string name = DateTime.UtcNow.ToString(TimeFormat, CultureInfo.InvariantCulture);
        string final = Path.Combine(root, name);
        string partial = final + Partial;
        try
        {
            Directory.CreateDirectory(root);
            if (Directory.Exists(final))
                return new BackupSnapshotTaken(final, 0, "a snapshot of this second exists already");
            if (Directory.Exists(partial))
                Directory.Delete(partial, recursive: true);
            Directory.CreateDirectory(partial);
            var namespaces = new HashSet<string>(StringComparer.Ordinal);
            var entries = new List<BackupFileEntry>();
            foreach (int p in partitions)
            {
                var vnode = KvPaths.Vnode(system, node, p);
                entries.Add(await PartitionBackup.WriteAsync(partial, p, ring.Size, node,
                    read => vnode.Ask<BackupChunk>(read, TimeSpan.FromSeconds(30)), namespaces).ConfigureAwait(false));
            }
            new BackupManifest(BackupFile.Version, DateTimeOffset.UtcNow, ring.Size, ring.Version, [node],
                namespaces.Order(StringComparer.Ordinal).ToList(), entries).Write(partial);
            Directory.Move(partial, final);
            Prune(root, keep);
            return new BackupSnapshotTaken(final, entries.Sum(e => e.Keys), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BackupReadException or AskTimeoutException or ArgumentException)
        {
            try
            {
                if (Directory.Exists(partial))
                    Directory.Delete(partial, recursive: true);
            }
            catch (IOException)
            {
                // left for the next snapshot to remove
            }
            return new BackupSnapshotTaken(final, 0, e.Message);
        }
    }

    /// <summary>The complete snapshots under <paramref name="root"/>, oldest first (names are UTC times).</summary>
    public static IReadOnlyList<string> Snapshots(string root) =>
        !Directory.Exists(root) ? []
            : Directory.EnumerateDirectories(root)
                .Where(d => DateTime.TryParseExact(Path.GetFileName(d), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
                    && File.Exists(Path.Combine(d, BackupManifest.FileName)))
                .Order(StringComparer.Ordinal)
                .ToList();

    private static void Prune(string root, int keep)
    {
        var snapshots = Snapshots(root);
        foreach (string old in snapshots.Take(Math.Max(0, snapshots.Count - keep)))
            Directory.Delete(old, recursive: true);
        foreach (string stale in Directory.EnumerateDirectories(root, "*" + Partial))
            Directory.Delete(stale, recursive: true);
    }
}
