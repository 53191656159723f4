using System.Text;
using Kv.Storage.IO;

namespace Kv.Storage.Tests;

/// <summary>Opens engines on an in-memory crashable file system with small sizes, so flushes and compactions happen often.</summary>
internal sealed class EngineHarness : IDisposable
{
    public const string Dir = "/db";

    public EngineHarness(StorageOptions? options = null)
    {
        Fs = new FaultInjectionFileSystem();
        Env = new StorageEnvironment(blockCacheBytes: 1 << 20, memtableBudgetBytes: 64L << 20, flushThreads: 1, compactionThreads: 1);
        Options = (options ?? Small) with { FileSystem = Fs, Environment = Env };
        Engine = LsmEngine.Open(Dir, Options);
    }

    public static StorageOptions Small => new()
    {
        WriteBufferSize = 64 << 10,
        TargetFileSize = 64 << 10,
        L1MaxBytes = 1 << 20,
        BlockSize = 512,
    };

    public FaultInjectionFileSystem Fs { get; }

    public StorageEnvironment Env { get; }

    public StorageOptions Options { get; private set; }

    public LsmEngine Engine { get; private set; }

    public void Reopen(StorageOptions? options = null)
    {
        Engine.Dispose();
        if (options is not null)
        {
            Options = options with { FileSystem = Fs, Environment = Env };
        }
        Engine = LsmEngine.Open(Dir, Options);
    }

    /// <summary>Power cut: nothing unsynced survives (or a random torn part of it), then reopen.</summary>
    public void CrashAndReopen(Random? torn = null)
    {
        Fs.FailWrites = true; // the abandoned engine can no longer change anything durable
        try
        {
            Engine.Dispose();
        }
        catch (IOException)
        {
        }
        Fs.FailWrites = false;
        Fs.Crash(torn);
        Engine = LsmEngine.Open(Dir, Options);
    }

    public static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    public static string S(byte[]? b) => b is null ? "<null>" : Encoding.UTF8.GetString(b);

    public void Dispose()
    {
        try
        {
            Engine.Dispose();
        }
        finally
        {
            Env.Dispose();
        }
    }
}
