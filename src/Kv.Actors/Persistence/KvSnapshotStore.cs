using System.Buffers.Binary;
using Akka.Persistence;
using Akka.Persistence.Snapshot;
using Kv.Storage;

namespace Kv.Actors.Persistence;

/// <summary>
/// Akka.Persistence snapshot store on a Kv.Storage engine (plugin id
/// <c>akka.persistence.snapshot-store.kv</c>, engine <c>snapshots</c>): 'S', persistence id,
/// sequence number -> timestamp (ticks), serializer id, manifest, snapshot bytes; saved durably.
/// Load picks the newest snapshot the criteria accept; one that does not decode fails the load
/// (Akka then recovers from an older one or from the events), it is never handed back as another.
/// </summary>
public sealed class KvSnapshotStore : SnapshotStore
{
    private const byte SnapshotSpace = (byte)'S';
    private readonly LsmEngine _engine;
    private readonly Akka.Serialization.Serialization _serialization;

    public KvSnapshotStore()
    {
        _engine = KvPersistenceStorage.Open(Context.System, "snapshots");
        _serialization = Context.System.Serialization;
    }

    protected override void PostStop()
    {
        _engine.Dispose();
        base.PostStop();
    }

    private static byte[] Key(string persistenceId, long sequenceNr)
    {
        var prefix = KvJournal.Prefix(SnapshotSpace, persistenceId);
        var key = new byte[prefix.Length + 8];
        prefix.CopyTo(key, 0);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(prefix.Length), sequenceNr);
        return key;
    }

    /// <summary>Every stored snapshot of the id: (sequence number, timestamp, key, value), oldest first.</summary>
    private List<(long Seq, DateTime Time, byte[] Key, byte[] Value)> All(string persistenceId)
    {
        var prefix = KvJournal.Prefix(SnapshotSpace, persistenceId);
        var list = new List<(long, DateTime, byte[], byte[])>();
        foreach (var (key, value) in _engine.ScanPrefix(prefix))
        {
            if (key.Length != prefix.Length + 8)
                continue;
            long seq = BinaryPrimitives.ReadInt64BigEndian(key.AsSpan(prefix.Length));
            var time = value.Length >= 8 ? new DateTime(BinaryPrimitives.ReadInt64BigEndian(value), DateTimeKind.Utc) : DateTime.MinValue;
            list.Add((seq, time, key, value));
        }
        return list;
    }

    private static bool Matches(SnapshotSelectionCriteria c, long seq, DateTime time) =>
        seq <= c.MaxSequenceNr && time <= c.MaxTimeStamp && seq >= c.MinSequenceNr && time >= (c.MinTimestamp ?? DateTime.MinValue);

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        foreach (var (seq, time, key, value) in Enumerable.Reverse(All(persistenceId)))
        {
            if (!Matches(criteria, seq, time))
                continue;
            object snapshot;
            try
            {
                var b = value.AsSpan();
                int serializerId = BinaryPrimitives.ReadInt32BigEndian(b[8..]);
                int ml = BinaryPrimitives.ReadUInt16BigEndian(b[12..]);
                string manifest = System.Text.Encoding.UTF8.GetString(b.Slice(14, ml));
                snapshot = _serialization.Deserialize(b[(14 + ml)..].ToArray(), serializerId, manifest);
            }
            catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or FormatException or System.Runtime.Serialization.SerializationException or ArgumentException)
            {
                throw new StorageCorruptionException("snapshots", 0, $"snapshot {persistenceId}#{seq} (key {Convert.ToHexString(key)}) does not decode: {e.Message}");
            }
            return Task.FromResult<SelectedSnapshot?>(new SelectedSnapshot(new SnapshotMetadata(persistenceId, seq, time), snapshot));
        }
        return Task.FromResult<SelectedSnapshot?>(null);
    }

    protected override async Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var serializer = _serialization.FindSerializerFor(snapshot);
        string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, snapshot);
        byte[] payload = serializer.ToBinary(snapshot);
        byte[] m = System.Text.Encoding.UTF8.GetBytes(manifest);
        var b = new byte[8 + 4 + 2 + m.Length + payload.Length];
        BinaryPrimitives.WriteInt64BigEndian(b, metadata.Timestamp.ToUniversalTime().Ticks);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), serializer.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(12), checked((ushort)m.Length));
        m.CopyTo(b, 14);
        payload.CopyTo(b, 14 + m.Length);
        await _engine.PutAsync(Key(metadata.PersistenceId, metadata.SequenceNr), b, durable: true).ConfigureAwait(false);
    }

    protected override async Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        // Akka deletes by sequence number; a timestamp, when given, must match too.
        var batch = new WriteBatch();
        foreach (var (seq, time, key, _) in All(metadata.PersistenceId))
        {
            if (seq == metadata.SequenceNr && (metadata.Timestamp == DateTime.MinValue || time == metadata.Timestamp.ToUniversalTime()))
                batch.Delete(key);
        }
        if (batch.Count > 0)
            await _engine.WriteAsync(batch, durable: true).ConfigureAwait(false);
    }

    protected override async Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        var batch = new WriteBatch();
        foreach (var (seq, time, key, _) in All(persistenceId))
        {
            if (Matches(criteria, seq, time))
                batch.Delete(key);
        }
        if (batch.Count > 0)
            await _engine.WriteAsync(batch, durable: true).ConfigureAwait(false);
    }
}
