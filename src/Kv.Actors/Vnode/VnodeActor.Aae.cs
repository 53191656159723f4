using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Kv.Actors.Aae;
using Kv.Actors.Objects;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// The vnode's part in active anti-entropy: its Merkle trees (<see cref="VnodeTrees"/>), updated on
/// every write, read-repair, handoff batch and reap, built from a storage snapshot when it starts
/// and again every TreeRebuildInterval (reading every block, so damage no write made is found),
/// one build at a time per node (a slot from <see cref="AaeSync"/>) at a capped rate; and its
/// answers to an exchange's <see cref="AaeTreeRequest"/>.
/// </summary>
public sealed partial class VnodeActor
{
    private static readonly byte[] DataEnd = [0xFF]; // every data key sorts before the vnode's own records

    /// <summary>A key's object changed (before: null if it was absent; after: null if it is gone).</summary>
    private void TreeUpdate(byte[] key, DvvSet<Sibling>? before, DvvSet<Sibling>? after)
    {
        _trees?.Update(key, before, after);
        _buildDirty?.Add(key);
    }

    private void AskToBuild()
    {
        if (!_aae.Enabled || _engine is null || _forwardTo is not null || _building is not null)
            return;
        _buildAsked = true;
        Context.System.ActorSelection("/user/" + KvPaths.Aae).Tell(new RequestBuildSlot(_partition), Self);
    }

    private void StartBuild()
    {
        var sync = Sender;
        if (_engine is null || _ring is null || _forwardTo is not null || _building is not null)
        {
            sync.Tell(new BuildFinished(_partition, 0, 0, "the vnode has no data to build from"), Self);
            return;
        }
        var engine = _engine;
        Snapshot snapshot;
        try
        {
            snapshot = engine.GetSnapshot();
        }
        catch (ObjectDisposedException e)
        {
            sync.Tell(new BuildFinished(_partition, 0, 0, e.Message), Self);
            return;
        }
        var trees = new VnodeTrees(_partition, _ring.Size, _nValOf, _maxNVal) { BuiltAt = DateTime.UtcNow };
        _building = trees;
        _buildDirty = new HashSet<byte[]>(ByteArrayComparer.Instance);
        long rate = _aae.BuildBytesPerSecond;
        Task.Run(() => Build(engine, snapshot, trees, rate))
            .PipeTo(Self, success: () => new TreesBuilt(trees, snapshot, null), failure: e => new TreesBuilt(trees, snapshot, e));
    }

    /// <summary>Folds over the snapshot's data keys into the trees, reading at most <paramref name="rate"/> bytes/s (0: no cap).</summary>
    private static async Task Build(LsmEngine engine, Snapshot snapshot, VnodeTrees trees, long rate)
    {
        var clock = Stopwatch.StartNew();
        long bytes = 0;
        using var it = engine.NewIterator(new ReadOptions { Snapshot = snapshot, UpperBound = DataEnd, FillCache = false });
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            var key = it.Key.ToArray();
            trees.Update(key, null, KvObjectCodec.Decode(it.Value));
            bytes += key.Length + it.Value.Length;
            if (rate > 0 && bytes * 1000 / rate > clock.ElapsedMilliseconds + 20)
                await Task.Delay(TimeSpan.FromMilliseconds(bytes * 1000 / rate - clock.ElapsedMilliseconds)).ConfigureAwait(false);
        }
    }

    private void OnTreesBuilt(TreesBuilt built)
    {
        var sync = Context.System.ActorSelection("/user/" + KvPaths.Aae);
        if (!ReferenceEquals(built.Trees, _building))
        {
            Release(built.Snapshot);
            return; // the vnode retired meanwhile
        }
        var error = built.Error;
        try
        {
            if (error is null)
            {
                // Writes since the snapshot: each key's version in the snapshot out, its current one in.
                foreach (var key in _buildDirty!)
                {
                    var before = _engine!.TryGet(key, out var old, built.Snapshot) ? KvObjectCodec.Decode(old.Span) : null;
                    built.Trees.Update(key, before, Read(key));
                }
                _trees = built.Trees;
            }
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or ObjectDisposedException)
        {
            error = e;
        }
        finally
        {
            Release(built.Snapshot);
            _building = null;
            _buildDirty = null;
        }
        if (error is null)
        {
            Log.Info($"vnode {_partition}: anti-entropy trees built ({_trees!.Count} keys in {_trees.Lists.Count} preference lists)");
            sync.Tell(new BuildFinished(_partition, new DateTimeOffset(_trees.BuiltAt).ToUnixTimeMilliseconds(), _trees.Count, null), Self);
            Timers.StartSingleTimer(RebuildTrees.Instance, RebuildTrees.Instance, _aae.TreeRebuildInterval);
        }
        else
        {
            sync.Tell(new BuildFinished(_partition, 0, 0, error.Message), Self);
            Timers.StartSingleTimer(RebuildTrees.Instance, RebuildTrees.Instance, TimeSpan.FromSeconds(30));
            if (error is StorageCorruptionException corrupt)
                OnCorruption(corrupt);
        }
    }

    private void Release(Snapshot snapshot)
    {
        try
        {
            snapshot.Dispose();
        }
        catch (ObjectDisposedException)
        {
            // The engine is gone (retired): so is the snapshot.
        }
    }

    private void OnTreeRequest(AaeTreeRequest request)
    {
        var trees = _forwardTo is null && _engine is not null ? _trees : null;
        if (trees is null)
        {
            Sender.Tell(new AaeTreeReply(_partition, request.RequestId, false, [], [], null), Self);
            return;
        }
        var tree = trees.Tree(request.Pref, request.N);
        if (request.Indices.Any(i => i < 0 || i >= (request.Level == 2 ? HashTree.Groups : HashTree.Segments)))
        {
            Sender.Tell(new AaeTreeReply(_partition, request.RequestId, true, [], [], "index out of range"), Self);
            return;
        }
        switch (request.Level)
        {
            case 0:
                Sender.Tell(new AaeTreeReply(_partition, request.RequestId, true, [tree?.Root() ?? HashTree.EmptyRoot], [], null), Self);
                break;
            case 1:
                Sender.Tell(new AaeTreeReply(_partition, request.RequestId, true, tree?.GroupHashes() ?? HashTree.EmptyGroups, [], null), Self);
                break;
            case 2:
                Sender.Tell(new AaeTreeReply(_partition, request.RequestId, true,
                    request.Indices.SelectMany(g => tree?.SegmentsOf(g) ?? new ulong[HashTree.Width]).ToList(), [], null), Self);
                break;
            case 3:
                ListKeys(request, trees);
                break;
            default:
                Sender.Tell(new AaeTreeReply(_partition, request.RequestId, true, [], [], $"no tree level {request.Level}"), Self);
                break;
        }
    }

    /// <summary>The keys (with item hashes) of some segments of one tree, read from a snapshot off the actor's thread.</summary>
    private void ListKeys(AaeTreeRequest request, VnodeTrees trees)
    {
        var engine = _engine!;
        var segments = request.Indices.ToHashSet();
        int partition = _partition;
        Task.Run(() =>
        {
            var keys = new List<AaeKeyHash>();
            using var snapshot = engine.GetSnapshot();
            using var it = engine.NewIterator(new ReadOptions { Snapshot = snapshot, UpperBound = DataEnd, FillCache = false });
            for (it.SeekToFirst(); it.Valid; it.Next())
            {
                var key = it.Key.ToArray();
                if (trees.Place(key) is { } place && place.Pref == request.Pref && place.N == request.N && segments.Contains(place.Segment))
                    keys.Add(new AaeKeyHash(key, VnodeTrees.ItemHash(key, KvObjectCodec.Decode(it.Value))));
            }
            return new AaeTreeReply(partition, request.RequestId, true, [], keys, null);
        }).PipeTo(Sender, Self, failure: e => new AaeTreeReply(partition, request.RequestId, true, [], [], e.Message));
    }
}
