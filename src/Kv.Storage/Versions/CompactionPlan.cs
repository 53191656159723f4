namespace Kv.Storage.Versions;

/// <summary>
/// What one compaction reads: files of <see cref="Level"/> and the overlapping files of the level
/// below, all from <see cref="Base"/>. Level 0 compactions take every level-0 file, so that no older
/// level-0 file is ever left above newer data pushed down.
/// </summary>
internal sealed class CompactionPlan
{
    private CompactionPlan(Version v, int level, int outputLevel, bool manual, List<FileMetadata> inputs, List<FileMetadata> below)
    {
        Base = v;
        Level = level;
        OutputLevel = outputLevel;
        _manual = manual;
        Inputs = [inputs, below];
        foreach (FileMetadata f in inputs)
        {
            InputBytes += f.Size;
        }
        foreach (FileMetadata f in below)
        {
            InputBytes += f.Size;
        }
    }

    private readonly bool _manual;

    public Version Base { get; }

    public int Level { get; }

    /// <summary>Level + 1, or Level itself when a manual compaction rewrites the bottom level in place.</summary>
    public int OutputLevel { get; }

    /// <summary>[0]: files of <see cref="Level"/>; [1]: overlapping files of the output level.</summary>
    public List<FileMetadata>[] Inputs { get; }

    public long InputBytes { get; }

    /// <summary>A single file with nothing below it moves down without being rewritten (never in manual compactions, which exist to rewrite).</summary>
    public bool IsTrivialMove => !_manual && Level > 0 && Inputs[0].Count == 1 && Inputs[1].Count == 0;

    public static long MaxBytesForLevel(StorageOptions o, int level)
    {
        double bytes = o.L1MaxBytes;
        for (int l = 2; l <= level; l++)
        {
            bytes *= o.LevelMultiplier;
        }
        return (long)Math.Min(bytes, long.MaxValue / 2);
    }

    /// <summary>The level most in need of compaction (score >= 1), or null.</summary>
    public static CompactionPlan? Pick(VersionSet versions, StorageOptions o)
    {
        Version v = versions.Current;
        int bestLevel = -1;
        double bestScore = 1;
        for (int level = 0; level < Version.NumLevels - 1; level++)
        {
            double score = level == 0
                ? (double)v.Files[0].Count / o.L0CompactionTrigger
                : (double)v.LevelBytes(level) / MaxBytesForLevel(o, level);
            if (score >= bestScore)
            {
                bestScore = score;
                bestLevel = level;
            }
        }
        if (bestLevel < 0)
        {
            return null;
        }
        List<FileMetadata> inputs;
        if (bestLevel == 0)
        {
            inputs = [.. v.Files[0]];
        }
        else
        {
            // Round-robin through the level's key space, after the last key compacted there.
            List<FileMetadata> files = v.Files[bestLevel];
            byte[]? pointer = versions.CompactPointer(bestLevel);
            FileMetadata pick = files[0];
            if (pointer is not null)
            {
                foreach (FileMetadata f in files)
                {
                    if (InternalKey.Compare(f.Largest, pointer) > 0)
                    {
                        pick = f;
                        break;
                    }
                }
            }
            inputs = [pick];
        }
        return WithBelow(v, bestLevel, inputs, manual: false);
    }

    /// <summary>The deepest level holding a file that overlaps [begin, end], or -1.</summary>
    public static int DeepestLevel(Version v, byte[]? begin, byte[]? end)
    {
        for (int level = Version.NumLevels - 1; level >= 0; level--)
        {
            if (v.Overlapping(level, begin, end).Count > 0)
            {
                return level;
            }
        }
        return -1;
    }

    /// <summary>
    /// A manual compaction of the files of <paramref name="level"/> overlapping [begin, end] into the
    /// next level, or (<paramref name="inPlace"/>) rewritten within the level; null if there are none.
    /// </summary>
    public static CompactionPlan? ForRange(Version v, int level, byte[]? begin, byte[]? end, bool inPlace)
    {
        if (v.Overlapping(level, begin, end).Count == 0)
        {
            return null;
        }
        List<FileMetadata> inputs = level == 0 ? [.. v.Files[0]] : v.Overlapping(level, begin, end);
        return inPlace ? new CompactionPlan(v, level, level, true, inputs, []) : WithBelow(v, level, inputs, manual: true);
    }

    private static CompactionPlan WithBelow(Version v, int level, List<FileMetadata> inputs, bool manual)
    {
        byte[] smallest = inputs[0].SmallestUserKey.ToArray();
        byte[] largest = inputs[0].LargestUserKey.ToArray();
        foreach (FileMetadata f in inputs)
        {
            if (f.SmallestUserKey.SequenceCompareTo(smallest) < 0)
            {
                smallest = f.SmallestUserKey.ToArray();
            }
            if (f.LargestUserKey.SequenceCompareTo(largest) > 0)
            {
                largest = f.LargestUserKey.ToArray();
            }
        }
        return new CompactionPlan(v, level, level + 1, manual, inputs, v.Overlapping(level + 1, smallest, largest));
    }
}
