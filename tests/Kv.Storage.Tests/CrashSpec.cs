using System.Diagnostics;
using System.Text;
using static Kv.Storage.Tests.EngineHarness;

namespace Kv.Storage.Tests;

public class CrashSpec
{
    /// <summary>
    /// Power cuts on the fault-injecting file system: unsynced bytes and unsynced renames are lost (or,
    /// half the time, a random torn part of the unsynced tail survives). After each crash the recovered
    /// writes must be a prefix of the write sequence that includes every durable write.
    /// </summary>
    [Fact]
    public void After_power_cuts_the_state_is_a_prefix_holding_every_durable_write()
    {
        var rng = new Random(42);
        using var h = new EngineHarness(EngineHarness.Small with { WriteBufferSize = 64 << 10 });
        long next = 0;
        long confirmed = 0; // writes [0, confirmed) survived every earlier crash
        int roundsThatLostUnsyncedWrites = 0;
        for (int round = 0; round < 30; round++)
        {
            long lastDurable = confirmed - 1;
            int writes = rng.Next(50, 1500);
            for (int i = 0; i < writes; i++, next++)
            {
                bool durable = rng.Next(8) == 0;
                h.Engine.Put(B($"w{next:D8}"), B($"value-{next}-{new string('x', rng.Next(200))}"), durable);
                if (durable)
                {
                    lastDurable = next;
                }
            }
            h.CrashAndReopen(rng.Next(2) == 0 ? rng : null);
            // Find the recovered prefix length and check nothing exists beyond it.
            long present = 0;
            using (StorageIterator it = h.Engine.NewIterator(ReadOptions.ForPrefix(B("w"))))
            {
                for (it.SeekToFirst(); it.Valid; it.Next(), present++)
                {
                    Assert.Equal($"w{present:D8}", Encoding.ASCII.GetString(it.Key));
                    Assert.StartsWith($"value-{present}-", Encoding.ASCII.GetString(it.Value), StringComparison.Ordinal);
                }
            }
            Assert.True(present > lastDurable, $"round {round}: durable write {lastDurable} lost (only {present} recovered)");
            Assert.Null(h.Engine.Recovery.Corruption);
            // Continue numbering after what survived, so the sequence stays gap-free.
            if (present < next)
            {
                roundsThatLostUnsyncedWrites++;
            }
            next = present;
            confirmed = present;
        }
        Assert.True(roundsThatLostUnsyncedWrites > 5, "the simulated power cuts should lose unsynced writes");
    }

    [Fact]
    public async Task A_sync_makes_earlier_unsynced_writes_survive_a_power_cut()
    {
        using var h = new EngineHarness();
        h.Engine.Put(B("lost"), B("1"));
        h.CrashAndReopen();
        Assert.Null(h.Engine.Get(B("lost"))); // an unsynced write does not survive the cut...
        h.Engine.Put(B("kept"), B("2"));
        await h.Engine.SyncAsync(); // ...unless a sync follows it
        await h.Engine.SyncAsync(); // nothing more to sync: completes at once
        var again = new TaskCompletionSource();
        h.Engine.Sync((e, _) => again.SetResult(), null);
        await again.Task.WaitAsync(TimeSpan.FromSeconds(5));
        h.CrashAndReopen();
        Assert.Equal("2", S(h.Engine.Get(B("kept"))));
    }

    [Fact]
    public async Task In_interval_mode_durable_writes_complete_after_the_timed_fsync_and_survive_a_power_cut()
    {
        using var h = new EngineHarness(EngineHarness.Small with { SyncMode = SyncMode.Interval, SyncInterval = TimeSpan.FromMilliseconds(5) });
        var tasks = Enumerable.Range(0, 20).Select(i => h.Engine.PutAsync(B($"d{i:D2}"), B("v"), durable: true)).ToList();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
        h.Engine.Put(B("d20"), B("v"), durable: true); // synchronous caller waits for the timer too
        long syncs = h.Engine.GetStatistics().WalSyncs;
        Assert.InRange(syncs, 1, 21);
        h.CrashAndReopen();
        Assert.Equal(21, h.Engine.ScanPrefix(B("d")).Count());
    }

    /// <summary>
    /// kill -9 of a real process at random moments, 20 rounds: every write the child reported as
    /// acknowledged (durable) must be readable, and each round's keys must form a gap-free prefix.
    /// </summary>
    [Fact]
    public void After_kill_9_every_acknowledged_durable_write_is_there_and_the_state_is_a_prefix()
    {
        string dir = TestPaths.NewTempDir();
        string child = TestPaths.SiblingDll("tests/Kv.Storage.CrashChild", "Kv.Storage.CrashChild");
        var rng = new Random(7);
        var acked = new long[20];
        try
        {
            for (int round = 0; round < 20; round++)
            {
                acked[round] = RunAndKill(child, dir, round, TimeSpan.FromMilliseconds(rng.Next(150, 900)));
                using var engine = LsmEngine.Open(dir);
                Assert.Null(engine.Recovery.Corruption);
                for (int r = 0; r <= round; r++)
                {
                    long present = 0;
                    using StorageIterator it = engine.NewIterator(ReadOptions.ForPrefix(B($"r{r:D3}/")));
                    for (it.SeekToFirst(); it.Valid; it.Next(), present++)
                    {
                        Assert.Equal($"r{r:D3}/{present:D8}", Encoding.ASCII.GetString(it.Key));
                        Assert.StartsWith($"{r}:{present}|", Encoding.ASCII.GetString(it.Value), StringComparison.Ordinal);
                    }
                    Assert.True(present > acked[r], $"round {r}: acknowledged write {acked[r]} missing after kill -9 in round {round} ({present} present)");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Starts the child, lets it write for <paramref name="runFor"/>, SIGKILLs it; returns the highest acknowledged index.</summary>
    private static long RunAndKill(string childDll, string dir, int round, TimeSpan runFor)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(childDll);
        psi.ArgumentList.Add(dir);
        psi.ArgumentList.Add(round.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using Process p = Process.Start(psi)!;
        long last = -1;
        var ready = new ManualResetEventSlim();
        var reader = Task.Run(() =>
        {
            string? line;
            while ((line = p.StandardOutput.ReadLine()) is not null)
            {
                if (line == "ready")
                {
                    ready.Set();
                }
                else if (line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    Volatile.Write(ref last, long.Parse(line.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        });
        Task<string> errors = p.StandardError.ReadToEndAsync();
        Assert.True(ready.Wait(TimeSpan.FromSeconds(30)), "crash child did not start: " + (p.HasExited ? errors.Result : "(still running)"));
        Thread.Sleep(runFor);
        Assert.False(p.HasExited, "crash child exited on its own: " + (p.HasExited ? errors.Result : ""));
        p.Kill(); // SIGKILL on Unix
        p.WaitForExit();
        reader.Wait(TimeSpan.FromSeconds(10));
        return Volatile.Read(ref last);
    }
}
