using System.Diagnostics;
using System.Globalization;

namespace Kv.Bench.Cluster;

/// <summary>
/// The compare-and-swap load both `etcd cas` and `cluster cas` run, so their figures compare:
/// <c>--ops</c> CAS operations from <c>--threads</c> callers over <c>--keys</c> keys, each
/// replacing the value the caller last saw for that key (the initial one to start with; a
/// mismatch's current value after it) with a new unique value of <c>--value-size</c> bytes; after a mismatch the caller tries the same key again from the value
/// the mismatch reported (a read-modify-write loop), after a success or an error it moves to
/// another random key. Counts successes, mismatches and errors; prints throughput and
/// latency (every operation, mismatches included) in YCSB's format. With <c>--warmup-seconds S</c>
/// the same load runs for S seconds first, unmeasured and unreported (errors aside), so a
/// just-started store (a .NET process still compiling its hot paths) is measured warm, as a
/// compiled peer is.
/// </summary>
internal sealed class CasLoop(string label, int keys, int threads, long ops, int valueSize, int warmupSeconds = 0)
{
    /// <summary>One CAS: (key index, expected value, new value) to (applied, current value or null when absent).</summary>
    public delegate Task<(bool Applied, byte[]? Current)> CasOp(int key, byte[] expected, byte[] value);

    public static CasLoop FromArgs(string label, BenchArgs args)
    {
        int keys = (int)args.Long("keys", 8);
        int threads = (int)args.Long("threads", 16);
        long ops = args.Long("ops", 20_000);
        int valueSize = (int)args.Long("value-size", 100);
        int warmup = (int)args.Long("warmup-seconds", 0);
        if (keys < 1 || threads < 1 || ops < 1 || valueSize < 16 || warmup < 0)
            throw new ArgumentException("--keys, --threads and --ops must be positive, --value-size at least 16, --warmup-seconds not negative");
        return new CasLoop(label, keys, threads, ops, valueSize, warmup);
    }

    public int Keys => keys;

    public string Describe => $"{ops} CAS operations of {valueSize} B values, {threads} callers, {keys} keys"
        + (warmupSeconds > 0 ? $", after a {warmupSeconds} s warm-up of the same load (not measured)" : "");

    public static string KeyName(int k) => "cas" + k.ToString(CultureInfo.InvariantCulture);

    /// <summary>A value of the configured size, unique to (caller, sequence number).</summary>
    public byte[] Value(int caller, long seq)
    {
        var v = new byte[valueSize];
        Array.Fill(v, (byte)'x');
        var tag = System.Text.Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{caller}-{seq}-"));
        tag.AsSpan(0, Math.Min(tag.Length, v.Length)).CopyTo(v);
        return v;
    }

    /// <summary>The value every key starts with (written by the caller before <see cref="RunAsync"/>).</summary>
    public byte[] Initial => Value(-1, 0);

    /// <summary>Runs the load (after the warm-up, if any); 0 when no operation failed.</summary>
    public async Task<int> RunAsync(CasOp cas)
    {
        if (warmupSeconds > 0)
        {
            var warm = new Recorder(label + "-WARMUP");
            long warmNext = ops - 1; // its values' sequence numbers follow the measured run's: every value written stays unique
            long until = Stopwatch.GetTimestamp() + warmupSeconds * Stopwatch.Frequency;
            await CallersAsync(cas, warm, () => Stopwatch.GetTimestamp() < until ? Interlocked.Increment(ref warmNext) : -1, new long[2]).ConfigureAwait(false);
            Console.WriteLine($"# warm-up: {warm.Count + warm.Failures} operations in {warmupSeconds} s, {warm.Failures} errors (not measured)");
        }
        var recorder = new Recorder(label);
        long next = -1;
        var counts = new long[2]; // applied, mismatched
        var sw = Stopwatch.StartNew();
        await CallersAsync(cas, recorder, () => Interlocked.Increment(ref next) is var i && i < ops ? i : -1, counts).ConfigureAwait(false);
        long applied = counts[0], mismatched = counts[1];
        var elapsed = sw.Elapsed;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"[{label}], RunTime(ms), {(long)elapsed.TotalMilliseconds}");
        Console.WriteLine($"[{label}], Throughput(ops/sec), {((recorder.Count + recorder.Failures) / elapsed.TotalSeconds).ToString("0.0", inv)}");
        Console.WriteLine($"[{label}], Succeeded, {applied}");
        Console.WriteLine($"[{label}], Mismatched, {mismatched}");
        Console.WriteLine($"[{label}], Errors, {recorder.Failures}");
        Console.WriteLine($"[{label}], SucceededThroughput(ops/sec), {(applied / elapsed.TotalSeconds).ToString("0.0", inv)}");
        recorder.Print();
        return recorder.Failures == 0 ? 0 : 1;
    }

    /// <summary>The callers' read-modify-write loops, until <paramref name="nextIndex"/> gives -1; counts (applied, mismatched) into <paramref name="counts"/>.</summary>
    private Task CallersAsync(CasOp cas, Recorder recorder, Func<long> nextIndex, long[] counts) =>
        Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            var random = new Random(t * 7919 + 1);
            var seen = Enumerable.Range(0, keys).Select(_ => Initial).ToArray();
            long i;
            int key = random.Next(keys);
            while ((i = nextIndex()) >= 0)
            {
                byte[] value = Value(t, i);
                var (ok, result) = await recorder.Time(() => cas(key, seen[key], value)).ConfigureAwait(false);
                if (!ok)
                {
                    key = random.Next(keys); // an error: keep what we saw (a mismatch later tells the truth)
                    continue;
                }
                if (result.Applied)
                {
                    Interlocked.Increment(ref counts[0]);
                    seen[key] = value;
                    key = random.Next(keys);
                }
                else
                {
                    Interlocked.Increment(ref counts[1]);
                    seen[key] = result.Current ?? Initial; // and try again on the same key from there
                }
            }
        })));
}
