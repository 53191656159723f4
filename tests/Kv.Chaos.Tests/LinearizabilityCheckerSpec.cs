using FsCheck;
using FsCheck.Fluent;
using Kv.Chaos.Linearizability;
using Kv.Chaos.Workloads;

namespace Kv.Chaos.Tests;

/// <summary>
/// The linearizability checker on hand-made histories (it must accept what is linearizable,
/// overlaps and open operations included, and reject each kind of anomaly it exists to find,
/// naming the operation) and on histories generated from real sequential executions.
/// </summary>
public sealed class LinearizabilityCheckerSpec(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(10);

    private static LinOp Read(string? value, double invoke, double? complete, string process = "c1", string key = "x") =>
        new(LinKind.Read, key, process, invoke, complete) { Value = value };

    private static LinOp Write(string value, double invoke, double? complete, string process = "c1", string key = "x") =>
        new(LinKind.Write, key, process, invoke, complete) { Value = value };

    private static LinOp Cas(string? expected, string value, bool succeeded, string? current, double invoke, double? complete, string process = "c1") =>
        new(LinKind.Cas, "x", process, invoke, complete) { Expected = expected, Value = value, Succeeded = succeeded, Current = current };

    private static LinOp Delete(double invoke, double? complete, string process = "c1") => new(LinKind.Delete, "x", process, invoke, complete);

    private static LinOp Incr(long by, long result, double invoke, double? complete, string process = "c1") =>
        new(LinKind.Increment, "n", process, invoke, complete) { Amount = by, Number = result };

    private static LinOp CounterRead(long value, double invoke, double? complete, string process = "c1") =>
        new(LinKind.Read, "n", process, invoke, complete) { Number = value, Value = value.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    private static LinearizabilityResult Register(params LinOp[] ops) => LinearizabilityChecker.Check(ops, RegisterModel.Instance, Budget);

    private static LinearizabilityResult Counter(params LinOp[] ops) => LinearizabilityChecker.Check(ops, CounterModel.Instance, Budget);

    [Fact]
    public void Accepts_a_sequential_register_history_with_cas_and_delete()
    {
        var result = Register(
            Read(null, 0, 1),
            Write("a", 2, 3),
            Cas("a", "b", true, "b", 4, 5),
            Cas("a", "c", false, "b", 6, 7),
            Read("b", 8, 9),
            Delete(10, 11),
            Read(null, 12, 13),
            Cas(null, "d", true, "d", 14, 15));
        Assert.Equal(LinVerdict.Linearizable, result.Verdict);
        Assert.True(result.Valid);
    }

    [Fact]
    public void Accepts_concurrent_overlaps_in_any_order_the_real_time_order_allows()
    {
        // Two overlapping writes may take effect in either order; a read overlapping both may see either or neither.
        Assert.True(Register(Write("a", 0, 10, "c1"), Write("b", 5, 15, "c2"), Read("a", 16, 20, "c3")).Valid);
        Assert.True(Register(Write("a", 0, 10, "c1"), Write("b", 5, 15, "c2"), Read("b", 16, 20, "c3")).Valid);
        // A read overlapping a write may still see the old value, even when another read saw the new one earlier in its interval.
        Assert.True(Register(Write("a", 0, 10, "c1"), Read(null, 1, 30, "c2"), Read("a", 2, 3, "c3")).Valid);
        // But once a read that began after another ended saw the new value ... the old one is gone for good.
        Assert.False(Register(Write("a", 0, 10, "c1"), Read("a", 2, 3, "c3"), Read(null, 4, 30, "c2")).Valid);
    }

    [Fact]
    public void Accepts_open_operations_that_took_effect_late_or_never()
    {
        // An open write (timed out) may take effect long after it was invoked ...
        Assert.True(Register(Write("a", 0, 10), Write("b", 20, null, "c2"), Read("a", 30, 40), Read("b", 100, 110)).Valid);
        // ... or never.
        Assert.True(Register(Write("a", 0, 10), Write("b", 20, null, "c2"), Read("a", 30, 40), Read("a", 100, 110)).Valid);
        // An open CAS that applied, seen by a later read; an open increment counted.
        Assert.True(Register(Write("a", 0, 10), Cas("a", "b", false, null, 20, null, "c2"), Read("b", 50, 60)).Valid);
        Assert.True(Counter(Incr(1, 1, 0, 10), Incr(5, 0, 5, null, "c2"), CounterRead(6, 20, 30), Incr(1, 7, 40, 50)).Valid);
        // But it takes effect once: its value cannot come back after a later write replaced it.
        var twice = Register(Write("a", 0, 10), Write("b", 20, null, "c2"), Read("b", 30, 40), Write("c", 50, 60), Read("b", 70, 80, "c3"));
        Assert.Equal(LinVerdict.NotLinearizable, twice.Verdict);
        Assert.Equal("c3", twice.FirstFailure!.Offending!.Process);
    }

    [Fact]
    public void Rejects_a_stale_read_after_a_completed_write_and_names_the_read()
    {
        var result = Register(Write("a", 0, 10, "c1"), Write("b", 20, 30, "c2"), Read("a", 40, 50, "c3"));
        Assert.Equal(LinVerdict.NotLinearizable, result.Verdict);
        Assert.False(result.Valid);
        var failure = result.FirstFailure!;
        Assert.Equal("x", failure.Key);
        Assert.Equal(LinKind.Read, failure.Offending!.Kind);
        Assert.Equal("c3", failure.Offending.Process);
        Assert.Equal(2, failure.LongestPrefix.Count);
        Assert.Equal("b", failure.StateAfterPrefix);
        Assert.Contains("cannot linearize c3 read = a on x [40.0, 50.0] ms (process c3)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("longest linearizable prefix of 2 ops", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_two_cas_winners_from_the_same_expected_value()
    {
        var result = Register(
            Write("v0", 0, 5),
            Cas("v0", "a", true, "a", 10, 20, "c1"),
            Cas("v0", "b", true, "b", 12, 22, "c2"));
        Assert.Equal(LinVerdict.NotLinearizable, result.Verdict);
        Assert.Equal(LinKind.Cas, result.FirstFailure!.Offending!.Kind);
        Assert.Equal(2, result.FirstFailure.LongestPrefix.Count); // the write and one of the winners

        // One winner and one loser that saw the winner's value is fine, in either real-time overlap.
        Assert.True(Register(Write("v0", 0, 5), Cas("v0", "a", true, "a", 10, 20, "c1"), Cas("v0", "b", false, "a", 12, 22, "c2")).Valid);
        // A mismatch reporting a value nobody wrote is a read of it: rejected.
        Assert.False(Register(Write("v0", 0, 5), Cas("zz", "b", false, "q", 12, 22, "c2")).Valid);
    }

    [Fact]
    public void Rejects_a_counter_read_that_went_backwards()
    {
        var result = Counter(
            Incr(1, 1, 0, 5),
            Incr(2, 3, 10, 15),
            CounterRead(3, 20, 25, "c1"),
            CounterRead(1, 30, 35, "c2"));
        Assert.Equal(LinVerdict.NotLinearizable, result.Verdict);
        Assert.Equal("c2", result.FirstFailure!.Offending!.Process);
        Assert.Equal("3", result.FirstFailure.StateAfterPrefix);
        // Concurrent with the increment, the old value was still fine.
        Assert.True(Counter(Incr(1, 1, 0, 5), Incr(2, 3, 10, 40), CounterRead(3, 20, 25, "c1"), CounterRead(1, 12, 18, "c2")).Valid);
    }

    [Fact]
    public void Rejects_a_lost_increment()
    {
        // Two concurrent increments both returning 1: one of them was lost.
        var both = Counter(Incr(1, 1, 0, 10, "c1"), Incr(1, 1, 2, 12, "c2"));
        Assert.Equal(LinVerdict.NotLinearizable, both.Verdict);
        Assert.Equal(LinKind.Increment, both.FirstFailure!.Offending!.Kind);
        // An acknowledged increment missing from a later read.
        var missing = Counter(Incr(1, 1, 0, 10, "c1"), Incr(1, 2, 20, 30, "c2"), CounterRead(1, 40, 50, "c3"));
        Assert.Equal(LinVerdict.NotLinearizable, missing.Verdict);
        Assert.Equal("c3", missing.FirstFailure!.Offending!.Process);
    }

    [Fact]
    public void Open_increments_of_one_amount_are_searched_as_one_class()
    {
        // 60 open increments by 1 and reads needing 0, 25 and 60 of them: 2^60 subsets, 61 classes.
        var ops = Enumerable.Range(0, 60).Select(i => Incr(1, 0, i, null, "c" + i))
            .Append(CounterRead(0, 0, 1, "r1")).Append(CounterRead(25, 100, 110, "r2")).Append(CounterRead(60, 200, 210, "r3")).ToArray();
        var result = LinearizabilityChecker.Check(ops, CounterModel.Instance, Budget);
        Assert.Equal(LinVerdict.Linearizable, result.Verdict);
        Assert.True(result.Keys[0].Steps < 100_000, $"{result.Keys[0].Steps} steps");
        output.WriteLine(result.Keys[0].Message);
        // Still at most once each: 61 is more than all of them.
        Assert.Equal(LinVerdict.NotLinearizable, LinearizabilityChecker.Check(ops.Append(CounterRead(61, 300, 310, "r4")), CounterModel.Instance, Budget).Verdict);
        // And the values must go up: 25 after 60 is a read going backwards.
        Assert.Equal(LinVerdict.NotLinearizable, LinearizabilityChecker.Check(ops.Append(CounterRead(25, 300, 310, "r4")), CounterModel.Instance, Budget).Verdict);
    }

    [Fact]
    public void Checks_each_key_apart_and_reports_the_failing_one()
    {
        var result = Register(
            Write("a", 0, 10, key: "k1"), Read("a", 20, 30, key: "k1"),
            Write("a", 0, 10, key: "k2"), Write("b", 20, 30, key: "k2"), Read("a", 40, 50, key: "k2"));
        Assert.Equal(LinVerdict.NotLinearizable, result.Verdict);
        Assert.Equal(LinVerdict.Linearizable, result.Keys.Single(k => k.Key == "k1").Verdict);
        Assert.Equal("k2", result.FirstFailure!.Key);
    }

    [Fact]
    public void Out_of_time_is_unknown_and_not_valid()
    {
        // Many concurrent open increments (all different) and a read no subset explains: the search must try every subset.
        var ops = Enumerable.Range(0, 40).Select(i => Incr(2 * (i + 1), 0, i, null, "c" + i)).Append(CounterRead(1, 100, 110, "r")).ToArray();
        var result = LinearizabilityChecker.Check(ops, CounterModel.Instance, TimeSpan.FromMilliseconds(200));
        Assert.Equal(LinVerdict.Unknown, result.Verdict);
        Assert.False(result.Valid);
        Assert.Contains("unknown", result.Keys[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_campaign_history_is_converted_with_failed_ops_dropped_and_indeterminate_ones_open()
    {
        var history = new List<Op>
        {
            new("c1", "write", "reg0", "c1-0", null, 0, 10, Outcome.Ok),
            new("c2", "write", "reg0", "c2-0", null, 5, 15, Outcome.Fail, "unavailable"), // never happened
            new("c3", "cas", "reg0", "c3-0", null, 20, 3020, Outcome.Info, "timeout") { Expected = "c1-0" }, // may have
            new("c1", "read", "reg0", null, ["c3-0"], 3030, 3040, Outcome.Ok),
            new("c2", "cas", "reg0", "c2-1", ["c3-0"], 3050, 3060, Outcome.Ok) { Expected = "c1-0", Applied = false },
            new("c1", "read", "reg0", null, null, 3070, 3080, Outcome.Fail, "unavailable"),
            new(Op.NemesisClient, "kill", "", "n1", null, 0, 100, Outcome.Ok),
            new(Op.FinalClient, Op.FinalRead, "reg0", null, ["c3-0"], 9000, 9010, Outcome.Ok),
        };
        var check = LinearizableCheck.Check(history, RegisterModel.Instance, Budget);
        Assert.True(check.Valid, string.Join("\n", check.Examples));
        Assert.Equal(6, check["attempted"]);
        Assert.Equal(3, check["acknowledged"]);
        Assert.Equal(2, check["failed"]);
        Assert.Equal(1, check["indeterminate"]);
        Assert.Equal(1, check["cas mismatched"]);
        Assert.Equal(1, check["keys linearizable"]);

        // Had the failed write happened after all (its value read back), the history is not linearizable.
        history.Add(new("c4", "read", "reg0", null, ["c2-0"], 9020, 9030, Outcome.Ok));
        var bad = LinearizableCheck.Check(history, RegisterModel.Instance, Budget);
        Assert.False(bad.Valid);
        Assert.Equal(1, bad["keys not linearizable"]);
        Assert.Contains(bad.Examples, e => e.Contains("cannot linearize c4 read = c2-0", StringComparison.Ordinal));
    }

    [Fact]
    public void Kv_Chaos_check_rereads_a_history_file_cas_fields_included()
    {
        string file = Path.GetTempFileName();
        try
        {
            var ops = new List<Op>
            {
                new("c1", "cas", "reg0", "c1-0", ["c1-0"], 0, 10, Outcome.Ok) { Applied = true }, // from absent
                new("c2", "cas", "reg0", "c2-0", ["c1-0"], 20, 30, Outcome.Ok) { Applied = false }, // also from absent: mismatch
                new("c3", "cas", "reg0", "c3-0", ["c3-0"], 40, 50, Outcome.Ok) { Expected = "c1-0", Applied = true },
            };
            File.WriteAllLines(file, ops.Select(History.Serialize));
            var stdout = new StringWriter();
            Assert.Equal(0, HistoryCheck.Run(["--workload", "cas-register", "--history", file], stdout, TextWriter.Null));
            Assert.Contains("cas applied 2, cas mismatched 1", stdout.ToString(), StringComparison.Ordinal);

            // A second winner from c1-0: not linearizable, exit 1, the CAS named.
            File.AppendAllLines(file, [History.Serialize(new Op("c4", "cas", "reg0", "c4-0", ["c4-0"], 60, 70, Outcome.Ok) { Expected = "c1-0", Applied = true })]);
            stdout = new StringWriter();
            Assert.Equal(1, HistoryCheck.Run(["--workload", "cas-register", "--history", file, "--budget", "5"], stdout, TextWriter.Null));
            Assert.Contains("cannot linearize c4 cas c1-0 -> c4-0 = ok on reg0", stdout.ToString(), StringComparison.Ordinal);
            Assert.Contains("verdict: INVALID", stdout.ToString(), StringComparison.Ordinal);

            Assert.Equal(2, HistoryCheck.Run(["--workload", "nope", "--history", file], TextWriter.Null, TextWriter.Null));
            Assert.Equal(3, HistoryCheck.Run(["--workload", "cas-register", "--history", file + ".missing"], TextWriter.Null, TextWriter.Null));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Histories_of_real_sequential_executions_are_linearizable()
    {
        var seeds = Gen.Choose(0, int.MaxValue);
        var sizes = Gen.Choose(1, 150);
        Prop.ForAll(Arb.From(seeds), Arb.From(sizes), (seed, n) =>
            LinearizabilityChecker.Check(RegisterExecution(seed, n), RegisterModel.Instance, Budget).Verdict == LinVerdict.Linearizable
            && LinearizabilityChecker.Check(CounterExecution(seed, n), CounterModel.Instance, Budget).Verdict == LinVerdict.Linearizable)
            .QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_read_of_a_value_never_written_is_always_rejected()
    {
        Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), Arb.From(Gen.Choose(1, 100)), (seed, n) =>
        {
            var ops = RegisterExecution(seed, n);
            var random = new Random(seed);
            var reads = ops.Select((op, i) => (op, i)).Where(p => p.op.Kind == LinKind.Read && !p.op.IsOpen).ToList();
            if (reads.Count == 0)
                return true;
            int victim = reads[random.Next(reads.Count)].i;
            ops[victim] = ops[victim] with { Value = "never-written" };
            var result = LinearizabilityChecker.Check(ops, RegisterModel.Instance, Budget);
            return result.Verdict == LinVerdict.NotLinearizable && result.FirstFailure!.Offending is not null;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_long_history_with_many_concurrent_clients_is_checked_quickly()
    {
        var ops = RegisterExecution(42, 5000, maxSpread: 40);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = LinearizabilityChecker.Check(ops, RegisterModel.Instance, TimeSpan.FromSeconds(20));
        Assert.Equal(LinVerdict.Linearizable, result.Verdict);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        output.WriteLine($"{ops.Count} ops in {watch.Elapsed.TotalMilliseconds:0} ms: {result.Keys[0].Message}");
    }

    /// <summary>
    /// Runs <paramref name="n"/> random register operations one after another (linearization point
    /// i*10+5), records each with an interval around its point (so real-time order holds), a few
    /// open (result unknown), plus open operations that never took effect.
    /// </summary>
    private static List<LinOp> RegisterExecution(int seed, int n, int maxSpread = 25)
    {
        var random = new Random(seed);
        var ops = new List<LinOp>();
        string? state = null;
        var written = new List<string>();
        for (int i = 0; i < n; i++)
        {
            double point = i * 10 + 5;
            double invoke = point - random.Next(0, maxSpread), complete = point + random.Next(0, maxSpread);
            bool open = random.Next(10) == 0;
            string process = "c" + random.Next(5).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string value = "v" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            LinOp op;
            switch (random.Next(10))
            {
                case < 4:
                    op = Read(state, invoke, complete, process);
                    break;
                case < 6:
                    op = Write(value, invoke, complete, process);
                    state = value;
                    break;
                case < 9:
                    string? expected = random.Next(2) == 0 || written.Count == 0 ? state : written[random.Next(written.Count)];
                    bool ok = expected == state;
                    if (ok)
                        state = value;
                    op = Cas(expected, value, ok, state, invoke, complete, process);
                    break;
                default:
                    op = Delete(invoke, complete, process);
                    state = null;
                    break;
            }
            written.Add(value);
            ops.Add(open ? op with { Complete = null } : op);
            if (random.Next(20) == 0) // a timed-out write that never took effect
                ops.Add(Write("ghost" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), invoke, null, process));
        }
        return ops;
    }

    /// <summary>The same for a counter: increments (returning the new value) and reads, some open, some never applied.</summary>
    private static List<LinOp> CounterExecution(int seed, int n)
    {
        var random = new Random(seed ^ 0x5eed);
        var ops = new List<LinOp>();
        long state = 0;
        for (int i = 0; i < n; i++)
        {
            double point = i * 10 + 5;
            double invoke = point - random.Next(0, 25), complete = point + random.Next(0, 25);
            string process = "c" + random.Next(5).ToString(System.Globalization.CultureInfo.InvariantCulture);
            LinOp op;
            if (random.Next(10) < 6)
            {
                long by = random.Next(1, 6);
                state += by;
                op = Incr(by, state, invoke, complete, process);
            }
            else
            {
                op = CounterRead(state, invoke, complete, process);
            }
            ops.Add(random.Next(12) == 0 ? op with { Complete = null } : op);
            if (random.Next(25) == 0) // a timed-out increment that never took effect
                ops.Add(Incr(random.Next(1, 6), 0, invoke, null, process));
        }
        return ops;
    }
}
