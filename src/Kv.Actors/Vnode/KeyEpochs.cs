using System.Globalization;
using Kv.Actors.Objects;
using Kv.Storage.IO;

namespace Kv.Actors.Vnode;

/// <summary>
/// Per-key actor epochs (Riak's fix for kv679, riak_kv >= 2.1): the actor a vnode writes a key's
/// dots as is "{vnode id}.{epoch}", and a coordinated write on a key whose stored object holds no
/// entry of this vnode identity (a new key, a key reaped after its delete, a key written only by
/// other replicas so far) takes a new epoch. A vnode that has no object for a key cannot know how
/// far its counters for that key went before (a reaped tombstone took them away, while a client's
/// context or a stale replica may still hold them); a new epoch is an actor nobody has seen, so a
/// counter never starts again at 1 under a name some context already knows. A key that holds an
/// entry of this identity keeps writing under its highest epoch, unless the client's context has
/// seen a higher counter for it than the stored object (a sign the object was lost and came back
/// older), so a busy key's vector gains no entry per write.
/// <para>
/// Epochs are leased: the file holds the highest epoch that may have been issued; it is raised by
/// <see cref="LeaseSize"/> (written and synced) only when the lease runs out, and a restart starts
/// past it, so one sync serves a thousand new keys and a crash never reissues an epoch.
/// </para>
/// </summary>
internal sealed class KeyEpochs
{
    /// <summary>Epochs taken per durable write of the lease.</summary>
    public const long LeaseSize = 1000;

    private const string FileName = "VNODE_EPOCH";
    private readonly string _directory;
    private readonly IFileSystem _fileSystem;
    private long _last; // the highest epoch issued (or possibly issued by an earlier run)
    private long _leased; // epochs up to here may be issued without writing the file

    public KeyEpochs(string directory, IFileSystem fileSystem)
    {
        (_directory, _fileSystem) = (directory, fileSystem);
        string path = Path.Combine(directory, FileName);
        if (File.Exists(path))
        {
            string text = File.ReadAllText(path).Trim();
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _last) || _last < 0)
                throw new IOException($"{path} is malformed ('{text}')");
        }
        _leased = _last; // what the last run may have issued: start past it
    }

    /// <summary>The highest epoch issued so far.</summary>
    public long Last => _last;

    /// <summary>A new epoch, never issued before in this directory (the lease is stored first when it runs out).</summary>
    public long Next()
    {
        if (_last >= _leased)
        {
            long lease = _last + LeaseSize;
            DurableFile.Replace(Path.Combine(_directory, FileName), System.Text.Encoding.UTF8.GetBytes(lease.ToString(CultureInfo.InvariantCulture)));
            _fileSystem.SyncDirectory(_directory);
            _leased = lease;
        }
        return ++_last;
    }

    /// <summary>The actor id of epoch <paramref name="epoch"/> of <paramref name="vnodeId"/>.</summary>
    public static string Actor(string vnodeId, long epoch) => vnodeId + "." + epoch.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The actor to write a coordinated put of a key as: the highest epoch of <paramref name="vnodeId"/>
    /// in the stored object, or null when a new epoch is needed (no such entry, or the client's
    /// context saw a higher counter for it than is stored).
    /// </summary>
    public static string? Continuing(string vnodeId, DvvSet<Sibling>? stored, VersionVector context)
    {
        if (stored is null)
            return null;
        DvvSet<Sibling>.Entry? best = null;
        long bestEpoch = -1;
        foreach (var e in stored.Entries)
        {
            // "<vnodeId>.<epoch>", matched without building the prefix (this runs on every write).
            if (e.Id.Length <= vnodeId.Length + 1 || e.Id[vnodeId.Length] != '.' || !e.Id.StartsWith(vnodeId, StringComparison.Ordinal)
                || !long.TryParse(e.Id.AsSpan(vnodeId.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long epoch))
                continue;
            if (epoch > bestEpoch)
                (best, bestEpoch) = (e, epoch);
        }
        if (best is null)
            return null;
        return context.Counters.TryGetValue(best.Id, out long seen) && seen > best.Counter ? null : best.Id;
    }
}
