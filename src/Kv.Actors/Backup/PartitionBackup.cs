using System.Text;

namespace Kv.Actors.Backup;

/// <summary>
/// Writes one partition's file of a backup from the pages of a vnode's backup cursor, got through
/// <c>read</c> (a client asks the owner's router; a node's scheduled snapshot asks its own vnode):
/// the first read starts the cursor, each later one names it. Memory stays bounded by a page. An
/// error page (or a failed read) deletes the unfinished file and throws <see cref="BackupReadException"/>.
/// </summary>
public static class PartitionBackup
{
    /// <summary>Keys per page asked for.</summary>
    public const int PageKeys = 2048;

    /// <summary>Bytes per page asked for.</summary>
    public const int PageBytes = 1024 * 1024;

    /// <summary>
    /// Reads <paramref name="partition"/> (of a ring of <paramref name="ringSize"/>) page by page and
    /// writes it to <paramref name="directory"/>; returns its manifest entry (the node named is
    /// <paramref name="node"/>). <paramref name="namespaces"/> collects the namespaces seen;
    /// <paramref name="onPage"/> gets the number of objects of each page.
    /// </summary>
    public static async Task<BackupFileEntry> WriteAsync(string directory, int partition, int ringSize, string node,
        Func<BackupRead, Task<BackupChunk>> read, ISet<string> namespaces, Action<int>? onPage = null, CancellationToken cancellationToken = default)
    {
        string name = BackupFile.NameOf(partition);
        string path = Path.Combine(directory, name);
        if (File.Exists(path))
            File.Delete(path); // an earlier attempt's unfinished file
        using var writer = new BackupFile.Writer(path, partition, ringSize);
        string? cursor = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            BackupChunk chunk;
            try
            {
                chunk = await read(new BackupRead(partition, ringSize, cursor, PageKeys, PageBytes)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw new BackupReadException(partition, $"partition {partition} on {node}: {e.Message}", unsynced: false);
            }
            if (chunk.Error is not null)
                throw new BackupReadException(partition, $"partition {partition} on {node}: {chunk.Error}", chunk.Error.StartsWith(BackupLimits.Unsynced, StringComparison.Ordinal));
            foreach (var item in chunk.Items)
            {
                writer.Add(item.Namespace, item.Key, item.Object);
                if (namespaces.Count < 10_000)
                {
                    lock (namespaces)
                        namespaces.Add(Encoding.UTF8.GetString(item.Namespace));
                }
            }
            onPage?.Invoke(chunk.Items.Count);
            if (chunk.Done)
                break;
            cursor = chunk.Cursor;
        }
        var (count, length, sha) = writer.Finish();
        return new BackupFileEntry(name, partition, node, count, length, sha);
    }
}

/// <summary>A partition could not be read for a backup (its vnode refused, failed or did not answer).</summary>
public sealed class BackupReadException(int partition, string message, bool unsynced) : Exception(message)
{
    /// <summary>The partition.</summary>
    public int Partition { get; } = partition;

    /// <summary>The vnode was still filling itself: asking again later may work.</summary>
    public bool Unsynced { get; } = unsynced;
}
