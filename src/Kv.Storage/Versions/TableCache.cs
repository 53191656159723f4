using Kv.Storage.IO;
using Kv.Storage.Table;

namespace Kv.Storage.Versions;

/// <summary>The open table readers of one engine, opened on first use and closed when their file is deleted.</summary>
internal sealed class TableCache(IFileSystem fs, string directory, BlockCache blockCache) : IDisposable
{
    private readonly Dictionary<long, TableReader> _open = [];

    public TableReader Get(FileMetadata file)
    {
        lock (_open)
        {
            if (_open.TryGetValue(file.Number, out TableReader? reader))
            {
                return reader;
            }
        }
        TableReader opened = TableReader.Open(fs, FileNames.Table(directory, file.Number), blockCache);
        lock (_open)
        {
            if (_open.TryGetValue(file.Number, out TableReader? raced))
            {
                opened.Dispose();
                return raced;
            }
            _open[file.Number] = opened;
            return opened;
        }
    }

    public void Evict(long number)
    {
        TableReader? reader;
        lock (_open)
        {
            _open.Remove(number, out reader);
        }
        reader?.Dispose();
    }

    public int OpenCount
    {
        get
        {
            lock (_open)
            {
                return _open.Count;
            }
        }
    }

    public void Dispose()
    {
        lock (_open)
        {
            foreach (TableReader r in _open.Values)
            {
                r.Dispose();
            }
            _open.Clear();
        }
    }
}
