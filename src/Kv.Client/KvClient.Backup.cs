using System.Text;
using Akka.Actor;
using Kv.Actors.Backup;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;

namespace Kv.Client;

/// <summary>How far a backup is: partitions written of all, objects so far.</summary>
public sealed record KvBackupProgress(int PartitionsDone, int Partitions, long Keys);

/// <summary>How far a restore is: objects merged (acknowledged by W replicas), of all, and those that failed for good.</summary>
public sealed record KvRestoreProgress(long Merged, long Total, long Failed);

/// <summary>A restore's outcome: objects merged, objects that failed (with a few of their errors).</summary>
public sealed record KvRestoreResult(long Merged, long Failed, IReadOnlyList<string> Errors);

/// <summary>
/// Backup and restore. A backup asks, for every partition, its owner's vnode for one consistent
/// snapshot of the objects whose own partition it is (all siblings, causal contexts, tombstones),
/// page by page, and writes it as one checksummed file per partition plus MANIFEST.json
/// (<see cref="BackupFile"/>, <see cref="BackupManifest"/>). A restore verifies the whole backup
/// first and refuses a damaged one; then merges every object into the cluster it is connected to
/// (any size, any ring: keys are placed by its ring) through <see cref="KvMergeMany"/> batches:
/// each replica merges the object with what it holds, so newer writes and siblings survive.
/// </summary>
public sealed partial class KvClient
{
    /// <summary>Objects per restore batch at most.</summary>
    public const int RestoreBatchKeys = 500;

    /// <summary>Bytes of objects per restore batch (about).</summary>
    public const int RestoreBatchBytes = 1024 * 1024;

    private const int Attempts = 4;

    /// <summary>
    /// Backs the cluster up into <paramref name="directory"/> (created if needed; it must not hold a
    /// backup already), <paramref name="concurrency"/> partitions at a time. A partition whose owner
    /// refuses or does not answer is tried again (the ring may have moved) a few times; then the
    /// backup fails with a <see cref="KvUnavailableException"/> and leaves no manifest.
    /// </summary>
    public async Task<BackupManifest> BackupAsync(string directory, IProgress<KvBackupProgress>? progress = null, int concurrency = 4,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (concurrency < 1)
            throw new ArgumentOutOfRangeException(nameof(concurrency), "at least 1");
        Directory.CreateDirectory(directory);
        if (File.Exists(Path.Combine(directory, BackupManifest.FileName)) || Directory.EnumerateFiles(directory, "*.kvb").Any())
            throw new IOException($"{directory} already holds a backup: back up into a new or empty directory");
        var ring = _routing.Current.Ring ?? throw new KvUnavailableException("the client knows no ring yet");
        int size = ring.Size;
        var namespaces = new HashSet<string>(StringComparer.Ordinal);
        var entries = new BackupFileEntry[size];
        int done = 0;
        long keys = 0;
        progress?.Report(new KvBackupProgress(0, size, 0));
        using var gate = new SemaphoreSlim(concurrency);
        var tasks = Enumerable.Range(0, size).Select(async p =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                entries[p] = await BackupPartitionAsync(directory, p, size, namespaces, n => Interlocked.Add(ref keys, n), cancellationToken).ConfigureAwait(false);
                progress?.Report(new KvBackupProgress(Interlocked.Increment(ref done), size, Interlocked.Read(ref keys)));
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(tasks).ConfigureAwait(false);
        var manifest = new BackupManifest(BackupFile.Version, DateTimeOffset.UtcNow, size, _routing.Current.Ring?.Version ?? ring.Version,
            entries.Select(e => e.Node).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
            namespaces.Order(StringComparer.Ordinal).ToList(), entries);
        manifest.Write(directory);
        return manifest;
    }

    private async Task<BackupFileEntry> BackupPartitionAsync(string directory, int partition, int size, ISet<string> namespaces, Action<int> onPage, CancellationToken cancellationToken)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            if (attempt > 0)
                await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt), cancellationToken).ConfigureAwait(false);
            var routing = _routing.Current;
            if (routing.Ring is not { } ring || ring.Size != size)
                throw new KvException($"the ring changed size during the backup (was {size} partitions): back up again");
            string owner = ring.Owners[partition];
            if (!routing.Nodes.Contains(owner))
            {
                last = new KvUnavailableException($"partition {partition}: its owner {owner} is not known to the client");
                continue;
            }
            var ownerNode = routing.Node(owner);
            var router = ownerNode.Router;
            long written = 0;
            try
            {
                return await PartitionBackup.WriteAsync(directory, partition, size, owner, async read =>
                {
                    var reply = await router.Ask<object>(ownerNode.Wrap(read), Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                    return reply as BackupChunk ?? throw new KvException($"unexpected reply to a backup read: {reply}");
                }, namespaces, n =>
                {
                    written += n;
                    onPage(n);
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (BackupReadException e)
            {
                onPage((int)-written); // the partition starts over
                last = e;
            }
        }
        throw new KvUnavailableException($"backup of partition {partition} failed: {last?.Message}");
    }

    /// <summary>
    /// Restores the backup in <paramref name="directory"/> into the cluster: verifies it first (a
    /// damaged backup throws <see cref="BackupCorruptionException"/> naming the first bad file, and
    /// nothing is written), then merges every object, <paramref name="concurrency"/> batches in flight.
    /// A batch that times out or whose node cannot serve is sent again (a merge is idempotent); an
    /// object refused by the cluster (unknown namespace, key or value too large) or short of its
    /// quorum after a few attempts is counted as failed.
    /// </summary>
    public async Task<KvRestoreResult> RestoreAsync(string directory, IProgress<KvRestoreProgress>? progress = null, int concurrency = 4,
        RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (concurrency < 1)
            throw new ArgumentOutOfRangeException(nameof(concurrency), "at least 1");
        var verified = BackupVerifier.Verify(directory);
        if (!verified.Ok)
            throw verified.Problems[0];
        var manifest = verified.Manifest!;
        long total = manifest.TotalKeys, merged = 0, failed = 0;
        var errors = new List<string>();
        void Report() => progress?.Report(new KvRestoreProgress(Interlocked.Read(ref merged), total, Interlocked.Read(ref failed)));
        void Failed(int count, string error)
        {
            Interlocked.Add(ref failed, count);
            lock (errors)
            {
                if (errors.Count < 20)
                    errors.Add(error);
            }
        }
        Report();
        using var gate = new SemaphoreSlim(concurrency);
        var running = new List<Task>();
        var pending = new Dictionary<string, (List<KvMergeItem> Items, long Bytes)>(StringComparer.Ordinal);
        int next = 0;
        async Task Send(string ns, List<KvMergeItem> items)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            running.RemoveAll(t => t.IsCompleted);
            running.Add(Task.Run(async () =>
            {
                try
                {
                    var (ok, bad) = await MergeBatchAsync(ns, items, options ?? RequestOptions.None, Interlocked.Increment(ref next), cancellationToken).ConfigureAwait(false);
                    Interlocked.Add(ref merged, ok);
                    foreach (var (count, error) in bad)
                        Failed(count, error);
                    Report();
                }
                finally
                {
                    gate.Release();
                }
            }, cancellationToken));
        }
        foreach (var entry in manifest.Files)
        {
            foreach (var record in BackupFile.Read(Path.Combine(directory, entry.Name)))
            {
                string ns = Encoding.UTF8.GetString(record.Namespace);
                if (!pending.TryGetValue(ns, out var batch))
                    batch = ([], 0);
                batch.Items.Add(new KvMergeItem(record.Key, KvObjectCodec.Decode(record.Object)));
                batch.Bytes += record.Key.Length + record.Object.Length;
                pending[ns] = batch;
                if (batch.Items.Count >= RestoreBatchKeys || batch.Bytes >= RestoreBatchBytes)
                {
                    pending.Remove(ns);
                    await Send(ns, batch.Items).ConfigureAwait(false);
                }
            }
        }
        foreach (var (ns, batch) in pending)
            await Send(ns, batch.Items).ConfigureAwait(false);
        await Task.WhenAll(running).ConfigureAwait(false);
        Report();
        return new KvRestoreResult(merged, failed, errors);
    }

    /// <summary>One batch of a restore: sent (again) until every item is merged, refused, or out of attempts; how many merged, and the failures.</summary>
    private async Task<(long Merged, List<(int Count, string Error)> Failed)> MergeBatchAsync(string ns, List<KvMergeItem> items, RequestOptions options, int seq,
        CancellationToken cancellationToken)
    {
        long merged = 0;
        var failed = new List<(int, string)>();
        byte[] nsBytes = Encoding.UTF8.GetBytes(ns);
        var left = items;
        string lastError = "";
        for (int attempt = 0; attempt < Attempts && left.Count > 0; attempt++)
        {
            if (attempt > 0)
                await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt), cancellationToken).ConfigureAwait(false);
            var routing = _routing.Current;
            var nodes = routing.Nodes.Where(n => !routing.IsDown(n)).ToList();
            if (nodes.Count == 0)
                nodes = routing.Nodes.ToList();
            if (nodes.Count == 0)
                throw new KvUnavailableException("no node known to restore into");
            string node = nodes[(seq + attempt) % nodes.Count];
            object reply;
            try
            {
                var target = routing.Node(node);
                reply = await target.Router.Ask<object>(target.Wrap(new KvMergeMany(nsBytes, left, options)), Options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                lastError = $"no answer in time from {node}";
                continue;
            }
            if (reply is RequestFailed whole)
            {
                lastError = whole.Reason;
                if (whole.Code == FailureCode.Unavailable)
                    continue;
                failed.Add((left.Count, $"{ns}: {whole.Reason}"));
                return (merged, failed);
            }
            if (reply is not KvManyReply many || many.Outcomes.Count != left.Count)
            {
                lastError = $"unexpected reply to a restore batch: {reply}";
                continue;
            }
            var again = new List<KvMergeItem>();
            for (int i = 0; i < left.Count; i++)
            {
                switch (many.Outcomes[i])
                {
                    case PutSucceeded:
                        merged++;
                        break;
                    case RequestFailed { Code: not FailureCode.Unavailable } refused:
                        failed.Add((1, $"{ns}/{Encoding.UTF8.GetString(left[i].Key)}: {refused.Reason}"));
                        break;
                    case var other:
                        lastError = other is QuorumNotMet q ? q.ToString() : other is RequestFailed f ? f.Reason : $"{other}";
                        again.Add(left[i]);
                        break;
                }
            }
            left = again;
        }
        if (left.Count > 0)
            failed.Add((left.Count, $"{ns}: {left.Count} objects not merged after {Attempts} attempts: {lastError}"));
        return (merged, failed);
    }
}
