using Kv.Chaos.Workloads;

namespace Kv.Chaos.Tests;

/// <summary>The TTL checker on hand-made histories: it flags what it exists to find, and only that.</summary>
public sealed class TtlCheckerSpec
{
    // A put acknowledged 5 ms after its invocation.
    private static Op Put(string value, double invoke, Outcome outcome = Outcome.Ok) => new("c1", "put", value[..2], value, null, invoke, invoke + 5, outcome);

    private static Op Read(string key, double invoke, params string[] values) => new("c2", "read", key, null, values, invoke, invoke + 5, Outcome.Ok);

    private static Op Exists(string key, double invoke, bool yes) => new("c3", TtlWorkload.ExistsKind, key, null, yes ? ["yes"] : [], invoke, invoke + 5, Outcome.Ok);

    private static Op Final(string key, params string[] values) => new(Op.FinalClient, Op.FinalRead, key, null, values, 50_000, 50_010, Outcome.Ok);

    [Fact]
    public void Reads_before_the_expiry_bound_and_not_found_after_it_are_valid()
    {
        var history = new List<Op>
        {
            Put("t0-c1-w1-ttl1000", 0),            // expires by 1005 at the latest
            Read("t0", 500, "t0-c1-w1-ttl1000"),
            Read("t0", 1004, "t0-c1-w1-ttl1000"),  // the stamp may have been as late as 5 ms
            Read("t0", 1200),
            Exists("t0", 900, yes: true),
            Exists("t0", 1300, yes: false),
            Final("t0"),
        };
        var result = TtlChecker.Check(history);
        Assert.True(result.Valid, string.Join("; ", result.Examples));
        Assert.Equal(2, result["values read"]);
        Assert.Equal(1000, TtlChecker.TtlOf("t0-c1-w1-ttl1000"));
    }

    [Fact]
    public void A_value_read_after_its_expiry_an_exists_of_nothing_live_and_unwritten_values_are_flagged()
    {
        var history = new List<Op>
        {
            Put("t0-c1-w1-ttl1000", 0),
            Read("t0", 1100, "t0-c1-w1-ttl1000"),  // expired by 1005
            Exists("t0", 1200, yes: true),         // nothing live could be there
            Read("t0", 1300, "t0-c9-w9-ttl1000"),  // never written
            Put("t1-c1-w2-ttl1000", 0, Outcome.Fail),
            Read("t1", 100, "t1-c1-w2-ttl1000"),   // its put failed
            Final("t0"),
            Final("t1"),
        };
        var result = TtlChecker.Check(history);
        Assert.False(result.Valid);
        Assert.Equal(1, result["expired"]);
        Assert.Equal(1, result["exists-expired"]);
        Assert.Equal(2, result["unexpected"]);
    }

    [Fact]
    public void An_acknowledged_put_the_client_may_have_retried_may_be_read_late()
    {
        // It took 4 s: its first attempt timed out and the client sent it elsewhere; the first one,
        // held by a paused node, was applied when that node resumed.
        var history = new List<Op>
        {
            new("c1", "put", "t0", "t0-c1-w1-ttl1000", null, 200, 4210, Outcome.Ok),
            Put("t0-c1-w2-ttl1000", 5000),         // answered at once: bounded
            Read("t0", 6500, "t0-c1-w1-ttl1000"),
            Read("t0", 7000, "t0-c1-w1-ttl1000", "t0-c1-w2-ttl1000"),
            Exists("t0", 8000, yes: true),
            Final("t0"),
        };
        var result = TtlChecker.Check(history);
        Assert.Equal(1, result["acknowledged, maybe retried (unbounded)"]);
        Assert.Equal(1, result["expired"]); // w2 read at 7000, expired by 6005
        Assert.Equal(0, result["exists-expired"]);
        Assert.True(TtlChecker.MaybeRetried(history[0]));
        Assert.False(TtlChecker.MaybeRetried(history[1]));
    }

    [Fact]
    public void An_indeterminate_put_may_be_read_late_and_keeps_an_exists_possible()
    {
        var history = new List<Op>
        {
            Put("t0-c1-w1-ttl1000", 0, Outcome.Info), // coordinated who knows when
            Read("t0", 5000, "t0-c1-w1-ttl1000"),
            Exists("t0", 5000, yes: true),
            Final("t0"),
        };
        Assert.True(TtlChecker.Check(history).Valid);
        // Without its final read the key is unread: not valid.
        Assert.False(TtlChecker.Check(history.Take(3).ToList()).Valid);
    }
}
