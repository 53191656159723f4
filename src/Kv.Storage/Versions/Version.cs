using Kv.Storage.Iterators;
using Kv.Storage.Memtable;
using Kv.Storage.Table;

namespace Kv.Storage.Versions;

/// <summary>
/// An immutable set of table files per level. Level 0 files may overlap and are kept newest first;
/// deeper levels are sorted by key and do not overlap. Readers hold a reference while they use it,
/// so its files are not deleted under them.
/// </summary>
internal sealed class Version
{
    public const int NumLevels = 7;
    private int _refs;

    public Version(List<FileMetadata>[] files, TableCache tables)
    {
        Files = files;
        Tables = tables;
    }

    public List<FileMetadata>[] Files { get; }

    public TableCache Tables { get; }

    public int Refs => Volatile.Read(ref _refs);

    public void Ref() => Interlocked.Increment(ref _refs);

    public void Unref() => Interlocked.Decrement(ref _refs);

    public long LevelBytes(int level)
    {
        long total = 0;
        foreach (FileMetadata f in Files[level])
        {
            total += f.Size;
        }
        return total;
    }

    public LookupResult Get(ReadOnlySpan<byte> lookupKey, uint hash, out ReadOnlyMemory<byte> value)
    {
        value = default;
        ReadOnlySpan<byte> userKey = InternalKey.UserKey(lookupKey);
        foreach (FileMetadata f in Files[0])
        {
            if (!f.Covers(userKey))
            {
                continue;
            }
            LookupResult r = Tables.Get(f).Get(lookupKey, hash, out value);
            if (r != LookupResult.NotFound)
            {
                return r;
            }
        }
        for (int level = 1; level < NumLevels; level++)
        {
            List<FileMetadata> files = Files[level];
            int i = FindFile(files, lookupKey);
            if (i >= files.Count || userKey.SequenceCompareTo(files[i].SmallestUserKey) < 0)
            {
                continue;
            }
            LookupResult r = Tables.Get(files[i]).Get(lookupKey, hash, out value);
            if (r != LookupResult.NotFound)
            {
                return r;
            }
        }
        return LookupResult.NotFound;
    }

    /// <summary>Index of the first file whose largest key is >= <paramref name="internalKey"/>.</summary>
    public static int FindFile(List<FileMetadata> files, ReadOnlySpan<byte> internalKey)
    {
        int lo = 0;
        int hi = files.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (InternalKey.Compare(files[mid].Largest, internalKey) < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    /// <summary>Files of <paramref name="level"/> that overlap the user-key range [begin, end].</summary>
    public List<FileMetadata> Overlapping(int level, byte[]? beginUser, byte[]? endUser)
    {
        var result = new List<FileMetadata>();
        foreach (FileMetadata f in Files[level])
        {
            if (f.Overlaps(beginUser, endUser))
            {
                result.Add(f);
            }
        }
        return result;
    }

    /// <summary>Whether no level deeper than <paramref name="level"/> may hold <paramref name="userKey"/>.</summary>
    public bool IsBaseLevelForKey(int level, ReadOnlySpan<byte> userKey)
    {
        for (int l = level + 1; l < NumLevels; l++)
        {
            foreach (FileMetadata f in Files[l])
            {
                if (f.Covers(userKey))
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>Adds one iterator per level-0 file and one concatenating iterator per deeper level.</summary>
    public void AddIterators(List<IInternalIterator> into, bool fillCache)
    {
        foreach (FileMetadata f in Files[0])
        {
            into.Add(Tables.Get(f).NewIterator(fillCache));
        }
        for (int level = 1; level < NumLevels; level++)
        {
            if (Files[level].Count > 0)
            {
                into.Add(new LevelIterator(Files[level], Tables, fillCache));
            }
        }
    }
}
