using System.Buffers.Binary;
using Kv.Actors.Objects;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;
using Kv.Storage;

namespace Kv.Actors.Vnode;

/// <summary>
/// One partition's replica on this node: owns a Kv.Storage engine in its own directory (sharing the
/// node's cache, memtable budget and background threads through the environment), and an identity
/// used in dots that is new whenever the directory is new, so a vnode that lost its data never
/// reuses old dots. Serves get, coordinated put and apply (merge by DVV sync). Writes are awaited
/// inside the actor, so operations on one vnode keep their order.
/// </summary>
public sealed class VnodeActor : ReceiveActor
{
    private const string IdFile = "VNODE_ID";

    /// <summary>Start of the error a write gets when it would exceed the sibling limit.</summary>
    public const string TooManySiblings = "too many siblings";
    private readonly int _partition;
    private readonly string _directory;
    private readonly StorageOptions _options;
    private LsmEngine? _engine;

    public VnodeActor(int partition, string directory, StorageOptions options)
    {
        _partition = partition;
        _directory = directory;
        _options = options;
        ReceiveAsync<VnodeGet>(OnGet);
        ReceiveAsync<VnodeCoordinatePut>(OnCoordinatePut);
        ReceiveAsync<VnodeApply>(OnApply);
    }

    /// <summary>This replica's identity in dots.</summary>
    public string VnodeId { get; private set; } = "";

    protected override void PreStart()
    {
        Directory.CreateDirectory(_directory);
        string idPath = Path.Combine(_directory, IdFile);
        bool fresh = !File.Exists(idPath) || !Directory.EnumerateFiles(_directory, "CURRENT").Any();
        if (fresh)
        {
            // A new (or emptied) directory: a new identity, written before any data.
            VnodeId = $"p{_partition}-{Guid.NewGuid():N}";
            File.WriteAllText(idPath + ".tmp", VnodeId);
            File.Move(idPath + ".tmp", idPath, overwrite: true);
        }
        else
        {
            VnodeId = File.ReadAllText(idPath).Trim();
        }
        _engine = LsmEngine.Open(_directory, _options);
    }

    protected override void PostStop() => _engine?.Dispose();

    internal static byte[] StorageKey(byte[] ns, byte[] key)
    {
        var k = new byte[2 + ns.Length + key.Length];
        BinaryPrimitives.WriteUInt16BigEndian(k, (ushort)ns.Length);
        ns.CopyTo(k, 2);
        key.CopyTo(k, 2 + ns.Length);
        return k;
    }

    private DvvSet<Sibling>? Read(byte[] storageKey)
    {
        var bytes = _engine!.Get(storageKey);
        return bytes is null ? null : KvObjectCodec.Decode(bytes);
    }

    private Task OnGet(VnodeGet get)
    {
        try
        {
            Sender.Tell(new VnodeGetReply(_partition, get.RequestId, Read(StorageKey(get.Namespace, get.Key)), null), Self);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException)
        {
            Log.Error(e, $"vnode {_partition}: read failed: {e.Message}");
            Sender.Tell(new VnodeGetReply(_partition, get.RequestId, null, e.Message), Self);
        }
        return Task.CompletedTask;
    }

    private async Task OnCoordinatePut(VnodeCoordinatePut put)
    {
        var sender = Sender;
        try
        {
            var key = StorageKey(put.Namespace, put.Key);
            var stored = Read(key) ?? DvvSet<Sibling>.Empty;
            var updated = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(put.Context, put.Value), stored, VnodeId);
            if (updated.Size > put.MaxSiblings)
            {
                // Riak's guard against sibling explosion: refuse, store nothing.
                sender.Tell(new VnodePutReply(_partition, put.RequestId, null, false, $"{TooManySiblings} ({updated.Size} > {put.MaxSiblings}); write with the context of a read to resolve them"), Self);
                return;
            }
            await _engine!.PutAsync(key, KvObjectCodec.Encode(updated), durable: true);
            sender.Tell(new VnodePutReply(_partition, put.RequestId, updated, Durable: true, null), Self);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException)
        {
            Log.Error(e, $"vnode {_partition}: coordinated put failed: {e.Message}");
            sender.Tell(new VnodePutReply(_partition, put.RequestId, null, false, e.Message), Self);
        }
    }

    private async Task OnApply(VnodeApply apply)
    {
        var sender = Sender;
        try
        {
            var key = StorageKey(apply.Namespace, apply.Key);
            var stored = Read(key);
            var merged = stored is null ? apply.Object : DvvSet<Sibling>.Sync(stored, apply.Object);
            if (stored is null || !merged.SameAs(stored))
                await _engine!.PutAsync(key, KvObjectCodec.Encode(merged), apply.Durable);
            if (apply.RequestId != VnodeApply.NoReply)
                sender.Tell(new VnodePutReply(_partition, apply.RequestId, merged, apply.Durable, null), Self);
        }
        catch (Exception e) when (e is StorageCorruptionException or FormatException or IOException or InvalidOperationException)
        {
            Log.Error(e, $"vnode {_partition}: apply failed: {e.Message}");
            sender.Tell(new VnodePutReply(_partition, apply.RequestId, null, false, e.Message), Self);
        }
    }
}
