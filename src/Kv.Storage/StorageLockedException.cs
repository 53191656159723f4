namespace Kv.Storage;

/// <summary>The data directory is already open, in this process or another.</summary>
public sealed class StorageLockedException : IOException
{
    public StorageLockedException(string lockPath, Exception? inner = null)
        : base($"storage directory is already in use: could not lock {lockPath} (another process or engine has it open)", inner)
    {
        LockPath = lockPath;
    }

    public string LockPath { get; }
}
