using Kv.Chaos.Workloads;

namespace Kv.Chaos.Tests;

/// <summary>The checkers on hand-made histories: each must flag what it exists to find (so a VALID verdict means something).</summary>
public sealed class CheckerSpec
{
    private static Op Write(string kind, string key, string? value, double invoke, Outcome outcome = Outcome.Ok, string client = "c1") =>
        new(client, kind, key, value, null, invoke, invoke + 5, outcome);

    private static Op Final(string key, params string[] values) => new(Op.FinalClient, Op.FinalRead, key, null, values, 10_000, 10_010, Outcome.Ok);

    private static Op Read(string key, double invoke, params string[] values) => new("c2", "read", key, null, values, invoke, invoke + 5, Outcome.Ok);

    [Fact]
    public void Register_flags_a_lost_and_a_wrong_acknowledged_write_and_passes_indeterminate_ones()
    {
        var history = new List<Op>
        {
            Write("write", "a", "va", 0),
            Write("write", "b", "vb", 10),
            Write("write", "c", "vc", 20),
            Write("write", "d", "vd", 30, Outcome.Info),
            Write("write", "e", "ve", 40, Outcome.Fail),
            Final("a", "va"),
            Final("b"),
            Final("c", "vc", "other"),
            Final("d"),
            Final("e"),
        };
        var result = RegisterChecker.Check(history);
        Assert.False(result.Valid);
        Assert.Equal(3, result["acknowledged"]);
        Assert.Equal(1, result["failed"]);
        Assert.Equal(1, result["indeterminate"]);
        Assert.Equal(1, result["lost"]);
        Assert.Equal(1, result["wrong"]);
        Assert.Contains(result.Examples, e => e.StartsWith("lost: b", StringComparison.Ordinal));

        var good = RegisterChecker.Check([Write("write", "a", "va", 0), Write("write", "d", "vd", 30, Outcome.Info), Final("a", "va"), Final("d")]);
        Assert.True(good.Valid);
    }

    [Fact]
    public void Register_is_invalid_when_an_acknowledged_key_could_not_be_read_back()
    {
        var history = new List<Op>
        {
            Write("write", "a", "va", 0),
            new(Op.FinalClient, Op.FinalRead, "a", null, null, 100, 200, Outcome.Fail, "timeout"),
        };
        var result = RegisterChecker.Check(history);
        Assert.False(result.Valid);
        Assert.Equal(1, result["unread"]);
    }

    [Fact]
    public void Set_flags_a_lost_element_and_an_unexpected_one_and_counts_recovered_and_stale_reads()
    {
        var history = new List<Op>
        {
            Write("add", "set0", "1.0", 0),
            Write("add", "set0", "1.1", 10),
            Write("add", "set0", "1.2", 20, Outcome.Info),
            Write("add", "set0", "1.3", 30, Outcome.Info),
            Read("set0", 100, "1.0"), // 1.1 was acknowledged at 15 ms: a stale read
            Final("set0", "1.0", "1.2", "9.9"),
        };
        var result = SetChecker.Check(history);
        Assert.False(result.Valid);
        Assert.Equal(1, result["lost"]);
        Assert.Equal(1, result["unexpected"]);
        Assert.Equal(1, result["recovered"]);
        Assert.Equal(1, result["stale reads"]);

        var good = SetChecker.Check([Write("add", "set0", "1.0", 0), Write("add", "set0", "1.1", 10, Outcome.Info), Read("set0", 100, "1.0"), Final("set0", "1.0")]);
        Assert.True(good.Valid);
        Assert.Equal(0, good["stale reads"]);
    }

    [Fact]
    public void Delete_flags_a_resurrected_key_a_stale_value_and_a_lost_recreation()
    {
        var history = new List<Op>
        {
            // k1: put, delete (both acknowledged), and the value is back: resurrected.
            Write("put", "k1", "k1-g1", 0), Write("delete", "k1", null, 10), Final("k1", "k1-g1"),
            // k2: put g1, an indeterminate delete, re-create g2 with the context of a read that saw g1;
            // g1 is back beside g2: wrong (a value overwritten by an acknowledged put came back).
            Write("put", "k2", "k2-g1", 0), Write("delete", "k2", null, 10, Outcome.Info), Write("put", "k2", "k2-g2", 20), Final("k2", "k2-g1", "k2-g2"),
            // k3: put, delete, re-create: the new value is missing: lost.
            Write("put", "k3", "k3-g1", 0), Write("delete", "k3", null, 10), Write("put", "k3", "k3-g2", 20), Final("k3"),
            // k4: the delete is indeterminate: either answer is fine.
            Write("put", "k4", "k4-g1", 0), Write("delete", "k4", null, 10, Outcome.Info), Final("k4", "k4-g1"),
            // k5: deleted for good, stays deleted.
            Write("put", "k5", "k5-g1", 0), Write("delete", "k5", null, 10), Final("k5"),
        };
        var result = DeleteChecker.Check(history);
        Assert.False(result.Valid);
        Assert.Equal(1, result["resurrected"]);
        Assert.Equal(1, result["wrong"]);
        Assert.Equal(1, result["lost"]);
        Assert.Contains(result.Examples, e => e.StartsWith("resurrected: k1", StringComparison.Ordinal));

        var good = DeleteChecker.Check(history.Where(o => o.Key is "k4" or "k5").ToList());
        Assert.True(good.Valid);
        Assert.Equal(1, good["keys deleted at the end"]);
    }

    [Fact]
    public void History_lines_round_trip_through_json()
    {
        var op = new Op("c1", "write", "k", "v", ["a", "b"], 1.5, 2.5, Outcome.Info, "QuorumNotMetException: 1 of 2");
        string line = History.Serialize(op);
        Assert.Contains("\"outcome\":\"info\"", line, StringComparison.Ordinal);
        var back = History.Parse(line);
        Assert.Equal(op with { Values = null }, back with { Values = null });
        Assert.Equal(["a", "b"], back.Values);
    }
}
