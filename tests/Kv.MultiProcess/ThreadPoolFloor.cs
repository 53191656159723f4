namespace Kv.MultiProcess;

/// <summary>
/// Probes block their thread while they wait (as Akka's TestKit does), and test classes run in
/// parallel: on a 2-core machine the blocked pool threads could leave the actor systems under test
/// without a thread for seconds (the pool adds only a couple a second), which failed unrelated
/// timing checks. Raise() lifts the pool's floor so that never happens (call it before the first system starts).
/// </summary>
public static class ThreadPoolFloor
{
    private const int MinimumThreads = 32;

    public static void Raise()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, MinimumThreads), Math.Max(io, MinimumThreads));
    }
}
