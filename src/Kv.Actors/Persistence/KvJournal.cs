using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Kv.Storage;

namespace Kv.Actors.Persistence;

/// <summary>
/// Akka.Persistence journal on a Kv.Storage engine (plugin id <c>akka.persistence.journal.kv</c>,
/// engine <c>journal</c> under the directory registered with <see cref="KvPersistenceStorage"/>).
/// Every call's accepted writes go in one write batch, committed durably: on a node that is one
/// group commit of the shared commit log with the vnodes' writes. Layout:
/// <list type="bullet">
/// <item>'M', persistence id, sequence number (big-endian, so a scan is in order) -> the event:
/// serializer id, manifest, writer guid, timestamp, payload bytes.</item>
/// <item>'H', persistence id -> the highest sequence number written (kept when a delete-to removes
/// every event, as Akka's journals must).</item>
/// </list>
/// An event that does not serialize is rejected (that write only, the actor's OnPersistRejected); a
/// storage failure fails the call (OnPersistFailure). A stored event that does not decode fails the
/// recovery with the key and the reason, never hands back a wrong event.
/// </summary>
public sealed class KvJournal : AsyncWriteJournal
{
    private const byte MessageSpace = (byte)'M';
    private const byte HighestSpace = (byte)'H';
    private readonly LsmEngine _engine;
    private readonly Akka.Serialization.Serialization _serialization;

    public KvJournal()
    {
        _engine = KvPersistenceStorage.Open(Context.System, "journal");
        _serialization = Context.System.Serialization;
    }

    protected override void PostStop()
    {
        _engine.Dispose();
        base.PostStop();
    }

    internal static byte[] Prefix(byte space, string persistenceId)
    {
        int n = Encoding.UTF8.GetByteCount(persistenceId);
        if (n > ushort.MaxValue)
            throw new ArgumentException($"a persistence id is at most {ushort.MaxValue} bytes");
        var b = new byte[3 + n];
        b[0] = space;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(1), (ushort)n);
        Encoding.UTF8.GetBytes(persistenceId, b.AsSpan(3));
        return b;
    }

    private static byte[] MessageKey(string persistenceId, long sequenceNr)
    {
        var prefix = Prefix(MessageSpace, persistenceId);
        var key = new byte[prefix.Length + 8];
        prefix.CopyTo(key, 0);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(prefix.Length), sequenceNr);
        return key;
    }

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var results = ImmutableList.CreateBuilder<Exception?>();
        var batch = new WriteBatch();
        var highest = new Dictionary<string, long>();
        foreach (var write in messages)
        {
            var events = (IImmutableList<IPersistentRepresentation>)write.Payload;
            var encoded = new List<(byte[] Key, byte[] Value)>(events.Count);
            Exception? rejected = null;
            foreach (var e in events)
            {
                try
                {
                    encoded.Add((MessageKey(e.PersistenceId, e.SequenceNr), Encode(e)));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    rejected = ex;
                    break;
                }
            }
            results.Add(rejected);
            if (rejected is not null)
                continue;
            foreach (var (key, value) in encoded)
                batch.Put(key, value);
            highest[write.PersistenceId] = Math.Max(highest.GetValueOrDefault(write.PersistenceId), write.HighestSequenceNr);
        }
        foreach (var (pid, seq) in highest)
        {
            if (seq > ReadHighest(pid))
                batch.Put(Prefix(HighestSpace, pid), BitConverter.GetBytes(seq));
        }
        if (batch.Count > 0)
            await _engine.WriteAsync(batch, durable: true).ConfigureAwait(false);
        return results.ToImmutable();
    }

    private byte[] Encode(IPersistentRepresentation e)
    {
        var serializer = _serialization.FindSerializerFor(e.Payload);
        string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, e.Payload);
        byte[] payload = serializer.ToBinary(e.Payload);
        byte[] m = Encoding.UTF8.GetBytes(manifest);
        byte[] w = Encoding.UTF8.GetBytes(e.WriterGuid ?? "");
        var b = new byte[4 + 2 + m.Length + 2 + w.Length + 8 + payload.Length];
        var s = b.AsSpan();
        BinaryPrimitives.WriteInt32BigEndian(s, serializer.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(s[4..], checked((ushort)m.Length));
        m.CopyTo(s[6..]);
        int o = 6 + m.Length;
        BinaryPrimitives.WriteUInt16BigEndian(s[o..], checked((ushort)w.Length));
        w.CopyTo(s[(o + 2)..]);
        o += 2 + w.Length;
        BinaryPrimitives.WriteInt64BigEndian(s[o..], e.Timestamp);
        payload.CopyTo(s[(o + 8)..]);
        return b;
    }

    private Persistent Decode(ReadOnlySpan<byte> key, ReadOnlySpan<byte> b, string persistenceId, long sequenceNr)
    {
        try
        {
            int serializerId = BinaryPrimitives.ReadInt32BigEndian(b);
            int ml = BinaryPrimitives.ReadUInt16BigEndian(b[4..]);
            string manifest = Encoding.UTF8.GetString(b.Slice(6, ml));
            int o = 6 + ml;
            int wl = BinaryPrimitives.ReadUInt16BigEndian(b[o..]);
            string writer = Encoding.UTF8.GetString(b.Slice(o + 2, wl));
            o += 2 + wl;
            long timestamp = BinaryPrimitives.ReadInt64BigEndian(b[o..]);
            object payload = _serialization.Deserialize(b[(o + 8)..].ToArray(), serializerId, manifest);
            return new Persistent(payload, sequenceNr, persistenceId, manifest, false, ActorRefs.NoSender, writer, timestamp);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or FormatException or System.Runtime.Serialization.SerializationException or ArgumentException)
        {
            throw new StorageCorruptionException("journal", 0, $"event {persistenceId}#{sequenceNr} (key {Convert.ToHexString(key)}) does not decode: {e.Message}");
        }
    }

    private long ReadHighest(string persistenceId) =>
        _engine.Get(Prefix(HighestSpace, persistenceId)) is { Length: 8 } v ? BitConverter.ToInt64(v) : 0;

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        Task.FromResult(ReadHighest(persistenceId));

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        if (max <= 0 || toSequenceNr < fromSequenceNr)
            return Task.CompletedTask;
        var prefix = Prefix(MessageSpace, persistenceId);
        long count = 0;
        using var it = _engine.NewIterator();
        for (it.Seek(MessageKey(persistenceId, Math.Max(0, fromSequenceNr))); it.Valid && count < max; it.Next())
        {
            var key = it.Key;
            if (key.Length != prefix.Length + 8 || !key.StartsWith(prefix))
                break;
            long seq = BinaryPrimitives.ReadInt64BigEndian(key[prefix.Length..]);
            if (seq > toSequenceNr)
                break;
            recoveryCallback(Decode(key, it.Value, persistenceId, seq));
            count++;
        }
        return Task.CompletedTask;
    }

    protected override async Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken)
    {
        var prefix = Prefix(MessageSpace, persistenceId);
        var batch = new WriteBatch();
        using (var it = _engine.NewIterator())
        {
            for (it.Seek(prefix); it.Valid; it.Next())
            {
                var key = it.Key;
                if (key.Length != prefix.Length + 8 || !key.StartsWith(prefix) || BinaryPrimitives.ReadInt64BigEndian(key[prefix.Length..]) > toSequenceNr)
                    break;
                batch.Delete(key);
            }
        }
        if (batch.Count > 0)
            await _engine.WriteAsync(batch, durable: true).ConfigureAwait(false);
    }
}
