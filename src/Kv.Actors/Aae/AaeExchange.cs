using Akka.Actor;
using Akka.Event;
using Kv.Actors.Objects;
using Kv.Actors.Vnode;

namespace Kv.Actors.Aae;

/// <summary>
/// One exchange between two vnodes of a preference list (a child of the node's <see cref="AaeSync"/>):
/// compares their roots, then the group hashes, then the segments of the groups that differ, then
/// the keys of the segments that differ, and repairs each key that differs (up to
/// MaxKeysPerExchange) by reading it from both and sending each side that lacks something the
/// merge of the two (DVV sync: a repair never overwrites or deletes what a replica holds). Reports
/// <see cref="ExchangeFinished"/> to its parent and stops.
/// </summary>
public sealed class AaeExchange : ReceiveActor
{
    private readonly ILoggingAdapter Log = Context.GetLogger();
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    private const int RepairsInFlight = 32;
    private readonly AaePair _pair;
    private readonly ActorSelection _local;
    private readonly ActorSelection _peer;
    private readonly int _maxKeys;
    private long _requestId;

    private sealed class Run
    {
        public static readonly Run Instance = new();
    }

    internal AaeExchange(AaePair pair, ActorSelection local, ActorSelection peer, int maxKeys)
    {
        (_pair, _local, _peer, _maxKeys) = (pair, local, peer, maxKeys);
        ReceiveAsync<Run>(async _ =>
        {
            (long repaired, string outcome) result;
            try
            {
                result = await Exchange().ConfigureAwait(true);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or FormatException or InvalidOperationException)
            {
                result = (0, "failed: " + e.Message);
            }
            Context.Parent.Tell(new ExchangeFinished(_pair, result.repaired, result.outcome), Self);
            Context.Stop(Self);
        });
    }

    protected override void PreStart() => Self.Tell(Run.Instance);

    private async Task<(AaeTreeReply Local, AaeTreeReply Peer)> Both(int level, IReadOnlyList<int> indices)
    {
        var local = _local.Ask<AaeTreeReply>(new AaeTreeRequest(_pair.Partition, _pair.Pref, _pair.N, level, indices, ++_requestId), AskTimeout);
        var peer = _peer.Ask<AaeTreeReply>(new AaeTreeRequest(_pair.PeerPartition, _pair.Pref, _pair.N, level, indices, ++_requestId), AskTimeout);
        return (await local.ConfigureAwait(true), await peer.ConfigureAwait(true));
    }

    private static string? NotReady(AaeTreeReply a, AaeTreeReply b) =>
        a.Error ?? b.Error ?? (!a.Ready ? "this vnode's trees are not built" : !b.Ready ? "the peer's trees are not built" : null);

    private async Task<(long, string)> Exchange()
    {
        var (a, b) = await Both(0, []).ConfigureAwait(true);
        if (NotReady(a, b) is { } why)
            return (0, "skipped: " + why);
        if (a.Hashes.SequenceEqual(b.Hashes))
            return (0, "in sync");
        (a, b) = await Both(1, []).ConfigureAwait(true);
        if (NotReady(a, b) is { } why1)
            return (0, "skipped: " + why1);
        var groups = HashTree.Differing(a.Hashes, b.Hashes);
        (a, b) = await Both(2, groups).ConfigureAwait(true);
        if (NotReady(a, b) is { } why2)
            return (0, "skipped: " + why2);
        var segments = new List<int>();
        foreach (int i in HashTree.Differing(a.Hashes, b.Hashes))
            segments.Add(groups[i / HashTree.Width] * HashTree.Width + i % HashTree.Width);
        if (segments.Count == 0)
            return (0, "in sync (changed meanwhile)");
        (a, b) = await Both(3, segments).ConfigureAwait(true);
        if (NotReady(a, b) is { } why3)
            return (0, "skipped: " + why3);
        var differing = DifferingKeys(a.Keys, b.Keys);
        var batch = differing.Take(_maxKeys).ToList();
        long repaired = 0;
        for (int i = 0; i < batch.Count; i += RepairsInFlight)
        {
            var results = await Task.WhenAll(batch.Skip(i).Take(RepairsInFlight).Select(Repair)).ConfigureAwait(true);
            repaired += results.Count(r => r);
        }
        if (repaired > 0)
            Log.Info($"anti-entropy: vnode {_pair.Partition} and {_pair.PeerPartition} on {_pair.PeerNode} (preference list {_pair.Pref}, n {_pair.N}): {differing.Count} keys differed in {segments.Count} segments, {repaired} repaired");
        return (repaired, $"{differing.Count} keys differed in {segments.Count} segments; {repaired} repaired" + (differing.Count > batch.Count ? $" (at most {_maxKeys} per exchange)" : ""));
    }

    /// <summary>Keys whose item hashes differ, or that one side lacks.</summary>
    internal static List<byte[]> DifferingKeys(IReadOnlyList<AaeKeyHash> a, IReadOnlyList<AaeKeyHash> b)
    {
        var theirs = new Dictionary<byte[], ulong>(ByteArrayComparer.Instance);
        foreach (var k in b)
            theirs[k.Key] = k.Hash;
        var differing = new List<byte[]>();
        foreach (var k in a)
        {
            if (!theirs.Remove(k.Key, out ulong h) || h != k.Hash)
                differing.Add(k.Key);
        }
        differing.AddRange(theirs.Keys);
        return differing;
    }

    /// <summary>Reads the key from both vnodes and sends the merge to each side whose object it changes; true if any did.</summary>
    private async Task<bool> Repair(byte[] storageKey)
    {
        if (VnodeActor.SplitStorageKey(storageKey) is not { } split)
            return false;
        var local = _local.Ask<VnodeGetReply>(new VnodeGet(split.Ns, split.Key, ++_requestId), AskTimeout);
        var peer = _peer.Ask<VnodeGetReply>(new VnodeGet(split.Ns, split.Key, ++_requestId), AskTimeout);
        VnodeGetReply a = await local.ConfigureAwait(true), b = await peer.ConfigureAwait(true);
        if (a.Error is not null || b.Error is not null)
            return false; // a replica that cannot read the key repairs itself (its damaged table is rewritten and refilled)
        var objA = a.Object;
        var objB = b.Object;
        if (objA is null && objB is null)
            return false;
        var merged = objA is null ? objB! : objB is null ? objA : DvvSet<Sibling>.Sync(objA, objB);
        bool any = false;
        if (objA is null || !merged.SameAs(objA))
        {
            _local.Tell(new VnodeApply(split.Ns, split.Key, merged, Durable: false, VnodeApply.NoReply), Self);
            any = true;
        }
        if (objB is null || !merged.SameAs(objB))
        {
            _peer.Tell(new VnodeApply(split.Ns, split.Key, merged, Durable: false, VnodeApply.NoReply), Self);
            any = true;
        }
        return any;
    }
}
