using Kv.Actors.Backup;
using Kv.Actors.Protos;

namespace Kv.Actors.Wire;

/// <summary>
/// Wire types of backup and restore (ids 320..322): a backup page's request and answer, and the
/// restore's merge batch (answered with a <see cref="Coordinators.KvManyReply"/>). Objects travel as
/// their stored encoding and are checked when read off the wire: a malformed one refuses the message.
/// </summary>
internal static partial class KvSerializers
{
    private static void AddBackup(Dictionary<int, IWireCodec> registry)
    {
        Add<BackupRead, BackupReadData>(registry, 320,
            m => new BackupReadData
            {
                Partition = m.Partition, RingSize = m.RingSize, HasCursor = m.Cursor is not null, Cursor = m.Cursor ?? "",
                MaxKeys = m.MaxKeys, MaxBytes = m.MaxBytes, Stop = m.Stop,
            },
            d => new BackupRead(d.Partition, d.RingSize, d.HasCursor ? d.Cursor : null, d.MaxKeys, d.MaxBytes, d.Stop));
        Add<BackupChunk, BackupChunkData>(registry, 321,
            m => new BackupChunkData
            {
                Partition = m.Partition, Cursor = m.Cursor, Done = m.Done, HasError = m.Error is not null, Error = m.Error ?? "",
                Items = { m.Items.Select(i => new BackupEntryData { Ns = Bytes(i.Namespace), Key = Bytes(i.Key), Object = Bytes(i.Object) }) },
            },
            d => new BackupChunk(d.Partition, d.Cursor, d.Items.Select(i => new BackupEntry(i.Ns.ToByteArray(), i.Key.ToByteArray(), ValidatedCopy(i.Object))).ToList(),
                d.Done, d.HasError ? d.Error : null));
        Add<KvMergeMany, KvMergeManyData>(registry, 322,
            m => new KvMergeManyData
            {
                Ns = Bytes(m.Namespace), Options = ToWire(m.Options),
                Items = { m.Items.Select(i => new KvMergeItemData { Key = Bytes(i.Key), Object = Encode(i.Object) }) },
            },
            d => new KvMergeMany(d.Ns.ToByteArray(), d.Items.Select(i => new KvMergeItem(i.Key.ToByteArray(), Decode(i.Object))).ToList(), FromWire(d.Options)));
    }
}
