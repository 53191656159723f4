using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Metrics;
using Kv.Actors.Objects;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>
/// The node's meter on its own (one actor system, no store): requests are counted and timed by op,
/// namespace and outcome, and a listener on this node's meter sees the same; the namespace tag
/// stays bounded; the snapshot carries the rate, the percentiles and every observable instrument.
/// </summary>
public sealed class MetricsSpec : Akka.TestKit.Xunit2.TestKit
{
    private readonly ITestOutputHelper _output;

    public MetricsSpec(ITestOutputHelper output) : base(KvTestConfig.Node(), output: output) => _output = output;

    private static readonly DvvSet<Sibling> Obj = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling("v"u8.ToArray(), "", 1, false)), "vn1");

    [Fact]
    public void Requests_are_counted_and_timed_by_op_namespace_and_outcome()
    {
        var metrics = KvMetrics.For(Sys);
        Assert.Same(metrics, KvMetrics.For(Sys)); // one per actor system
        var seen = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter) // not the meters of other specs' systems in this process
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            lock (seen)
                seen.Add((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
        });
        listener.Start();

        long start = Stopwatch.GetTimestamp();
        Thread.Sleep(5);
        string ns = metrics.Namespace("default"u8.ToArray());
        metrics.Request("get", ns, new GetSucceeded(Obj), start);
        metrics.Request("get", ns, new GetSucceeded(Obj), start);
        metrics.Request("get", ns, new NotFound(VersionVector.Empty), start);
        metrics.Request("put", ns, new QuorumNotMet("put", 1, 2, 0, 0, "timed out"), start);
        metrics.Request("put", ns, new PutRefused("too many siblings"), start);
        metrics.Request("delete", ns, new RequestFailed("bad"), start);

        var durations = seen.Where(s => s.Instrument == "kv.request.duration").ToList();
        Assert.Equal(6, durations.Count);
        Assert.All(durations, d => Assert.True(d.Value >= 0.005, $"{d.Value} s is shorter than the 5 ms slept"));
        Assert.Equal(2, durations.Count(d => (string?)d.Tags["op"] == "get" && (string?)d.Tags["ns"] == "default" && (string?)d.Tags["outcome"] == "ok"));
        Assert.Equal(new[] { "error", "not_found", "ok", "ok", "quorum_failed", "refused" }, durations.Select(d => (string)d.Tags["outcome"]!).Order());

        var snapshot = metrics.Snapshot("test-node");
        _output.WriteLine(string.Join("\n", snapshot.Samples.Select(s => $"{s.Name}{{{s.Labels}}} {s.Value}")));
        Assert.Equal(2, snapshot.Sum("kv.requests", "op=get", "ns=default", "outcome=ok"));
        Assert.Equal(1, snapshot.Sum("kv.requests", "op=get", "outcome=not_found"));
        Assert.Equal(6, snapshot.Sum("kv.requests"));
        Assert.Equal(1, snapshot.Sum("kv.quorum.failures", "op=put")); // the coordinator's quorum failure counts here too
        metrics.QuorumFailed("get"); // refused up front by the router
        Assert.Equal(2, metrics.Snapshot("test-node").Sum("kv.quorum.failures"));
        Assert.True(snapshot.Sum("kv.request.latency.p50") >= 5);
        Assert.True(snapshot.Sum("kv.request.latency.max") >= snapshot.Sum("kv.request.latency.p99"));
        // Every instrument family is in the snapshot, whether or not it moved.
        foreach (string name in new[] { "kv.hints.pending", "kv.aae.exchanges", "kv.handoff.size", "kv.storage.memtable.size", "kv.storage.commitlog.syncs",
                     "kv.cluster.members", "kv.cluster.unreachable", "kv.vnode.mailbox.depth", "kv.requests.rate" })
            Assert.Contains(snapshot.Samples, s => s.Name == name);

        // Hints, anti-entropy, handoff: what the actors report is what the snapshot shows.
        metrics.HintQueued();
        metrics.HintQueued();
        metrics.HintsDelivered(1);
        metrics.HintDropped();
        metrics.HintsHeld(1, 300);
        metrics.AaeExchanged(4, failed: false);
        metrics.AaeExchanged(0, failed: true);
        metrics.HandedOff(10, 4096);
        var after = metrics.Snapshot("test-node");
        Assert.Equal((2, 1, 1, 1, 300), ((int)after.Sum("kv.hints.queued"), (int)after.Sum("kv.hints.delivered"), (int)after.Sum("kv.hints.dropped"),
            (int)after.Sum("kv.hints.pending"), (int)after.Sum("kv.hints.pending.size")));
        Assert.Equal((1, 1, 4), ((int)after.Sum("kv.aae.exchanges", "outcome=ok"), (int)after.Sum("kv.aae.exchanges", "outcome=failed"), (int)after.Sum("kv.aae.keys_repaired")));
        Assert.Equal((10, 4096), ((int)after.Sum("kv.handoff.keys"), (int)after.Sum("kv.handoff.size")));
    }

    [Fact]
    public void The_namespace_tag_is_cached_and_bounded()
    {
        var metrics = KvMetrics.For(Sys);
        string first = metrics.Namespace("orders"u8.ToArray());
        Assert.Equal("orders", first);
        Assert.Same(first, metrics.Namespace(Encoding.UTF8.GetBytes("orders"))); // the same string, no new one per request
        var names = Enumerable.Range(0, KvMetrics.MaxNamespaces + 50).Select(i => metrics.Namespace(Encoding.UTF8.GetBytes($"ns-{i}"))).ToList();
        Assert.Contains(KvMetrics.OtherNamespace, names);
        Assert.True(names.Distinct().Count() <= KvMetrics.MaxNamespaces + 1);
        Assert.Equal("orders", metrics.Namespace("orders"u8.ToArray())); // known before the cap: still named
    }
}
