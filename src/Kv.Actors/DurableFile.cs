namespace Kv.Actors;

/// <summary>Small state files replaced whole: written to a temporary file, fsynced, then renamed over the old one.</summary>
internal static class DurableFile
{
    /// <summary>
    /// Replaces <paramref name="path"/> with <paramref name="bytes"/>: a reader sees the old
    /// contents or the new, never a mix. The rename itself is durable only once the caller syncs the
    /// directory.
    /// </summary>
    public static void Replace(string path, ReadOnlySpan<byte> bytes)
    {
        string tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
