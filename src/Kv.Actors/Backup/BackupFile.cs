using System.Buffers.Binary;
using System.Security.Cryptography;
using Kv.Actors.Objects;
using Kv.Storage.Util;

namespace Kv.Actors.Backup;

/// <summary>One stored object of a backup: its namespace, key and stored bytes (the DVV set with all its siblings, <see cref="KvObjectCodec"/>).</summary>
public sealed record BackupRecord(byte[] Namespace, byte[] Key, byte[] Object);

/// <summary>A backup file or manifest that is damaged: <see cref="File"/> names it.</summary>
public sealed class BackupCorruptionException(string file, string detail) : Exception($"{file}: {detail}")
{
    /// <summary>The damaged file's name (within the backup directory).</summary>
    public string File { get; } = file;

    /// <summary>What is wrong with it.</summary>
    public string Detail { get; } = detail;
}

/// <summary>
/// The file format of one partition of a backup (<c>partition-NNNNN.kvb</c>):
/// <list type="bullet">
/// <item>a header of 20 bytes: "KVBK", the format version (u32), the partition and the ring size
/// (u32 each), and the CRC-32C of those 16 bytes;</item>
/// <item>records: the payload's length (u32, at most <see cref="MaxPayload"/>), its CRC-32C (u32),
/// and the payload: the namespace's length (u8) and bytes, the key's length (u32) and bytes, and the
/// stored object's bytes (the rest);</item>
/// <item>a trailer: the length <see cref="TrailerMark"/>, the number of records (u64), and the
/// CRC-32C of that count: a file cut short has none, so it is never taken for a whole one.</item>
/// </list>
/// All integers are little-endian. A reader checks each record's checksum and decodes its object.
/// </summary>
public static class BackupFile
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int Version = 1;

    /// <summary>The length that marks the trailer.</summary>
    public const uint TrailerMark = 0xFFFF_FFFF;

    /// <summary>The largest payload of a record (64 MiB: well above any object the store accepts).</summary>
    public const int MaxPayload = 64 << 20;

    private const int HeaderLength = 20;
    private static readonly byte[] Magic = "KVBK"u8.ToArray();

    /// <summary>The file name of a partition's file.</summary>
    public static string NameOf(int partition) => $"partition-{partition:D5}.kvb";

    /// <summary>Writes one partition's records to a new file; <see cref="Finish"/> ends it with its trailer and syncs it.</summary>
    public sealed class Writer : IDisposable
    {
        private readonly FileStream _stream;
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private bool _finished;

        /// <summary>Creates <paramref name="path"/> (which must not exist) for <paramref name="partition"/> of a ring of <paramref name="ringSize"/>.</summary>
        public Writer(string path, int partition, int ringSize)
        {
            _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            var header = new byte[HeaderLength];
            Magic.CopyTo(header, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), Version);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)partition);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)ringSize);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), Crc32C.Compute(header.AsSpan(0, 16)));
            Write(header);
        }

        /// <summary>Records written so far.</summary>
        public long Count { get; private set; }

        /// <summary>Bytes written so far.</summary>
        public long Length { get; private set; }

        /// <summary>Appends one object (its stored bytes, checked to decode).</summary>
        public void Add(byte[] ns, byte[] key, ReadOnlySpan<byte> obj)
        {
            if (ns.Length is 0 or > 255)
                throw new ArgumentException($"a namespace must be 1..255 bytes (got {ns.Length})", nameof(ns));
            KvObjectCodec.Validate(obj);
            long payload = 1 + ns.Length + 4 + key.Length + obj.Length;
            if (payload > MaxPayload)
                throw new ArgumentException($"a record of {payload} bytes exceeds the format's limit ({MaxPayload})", nameof(obj));
            var record = new byte[8 + payload];
            var p = record.AsSpan(8);
            p[0] = (byte)ns.Length;
            ns.CopyTo(p[1..]);
            BinaryPrimitives.WriteUInt32LittleEndian(p[(1 + ns.Length)..], (uint)key.Length);
            key.CopyTo(p[(5 + ns.Length)..]);
            obj.CopyTo(p[(5 + ns.Length + key.Length)..]);
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)payload);
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), Crc32C.Compute(p));
            Write(record);
            Count++;
        }

        /// <summary>Writes the trailer and syncs the file; returns its record count, length and SHA-256 (hex, lower case).</summary>
        public (long Count, long Length, string Sha256) Finish()
        {
            var trailer = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, TrailerMark);
            BinaryPrimitives.WriteUInt64LittleEndian(trailer.AsSpan(4), (ulong)Count);
            BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(12), Crc32C.Compute(trailer.AsSpan(4, 8)));
            Write(trailer);
            _stream.Flush(flushToDisk: true);
            _finished = true;
            return (Count, Length, Convert.ToHexStringLower(_sha.GetHashAndReset()));
        }

        private void Write(byte[] bytes)
        {
            _stream.Write(bytes);
            _sha.AppendData(bytes);
            Length += bytes.Length;
        }

        public void Dispose()
        {
            _stream.Dispose();
            _sha.Dispose();
            if (!_finished)
            {
                try
                {
                    File.Delete(_stream.Name); // an unfinished file is never left to be taken for data
                }
                catch (IOException)
                {
                    // best effort: without a trailer no reader accepts it anyway
                }
            }
        }
    }

    /// <summary>The header of a file: its partition and ring size.</summary>
    public sealed record Header(int Partition, int RingSize);

    /// <summary>
    /// Reads a file's records in order, checking the header, each record's checksum and framing and
    /// its object's decoding, and the trailer (its count must match). Any damage is a
    /// <see cref="BackupCorruptionException"/> naming the file (<paramref name="name"/>) and the offset.
    /// </summary>
    public static IEnumerable<BackupRecord> Read(Stream stream, string name, Action<Header>? onHeader = null)
    {
        var header = new byte[HeaderLength];
        if (ReadFully(stream, header) < HeaderLength)
            throw new BackupCorruptionException(name, "shorter than a backup file's header");
        if (!header.AsSpan(0, 4).SequenceEqual(Magic))
            throw new BackupCorruptionException(name, "not a backup file (bad magic)");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(16)) != Crc32C.Compute(header.AsSpan(0, 16)))
            throw new BackupCorruptionException(name, "header checksum mismatch");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
        if (version != Version)
            throw new BackupCorruptionException(name, $"format version {version} (this kv reads {Version})");
        onHeader?.Invoke(new Header((int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8)), (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12))));
        long offset = HeaderLength;
        long count = 0;
        var frame = new byte[8];
        while (true)
        {
            if (ReadFully(stream, frame) < 8)
                throw new BackupCorruptionException(name, $"cut short at byte {offset}: no trailer (the file is truncated)");
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(frame);
            if (length == TrailerMark)
            {
                var rest = new byte[8];
                if (ReadFully(stream, rest) < 8)
                    throw new BackupCorruptionException(name, $"cut short in the trailer at byte {offset}");
                var countBytes = frame.AsSpan(4).ToArray().Concat(rest.Take(4)).ToArray();
                if (BinaryPrimitives.ReadUInt32LittleEndian(rest.AsSpan(4)) != Crc32C.Compute(countBytes))
                    throw new BackupCorruptionException(name, $"trailer checksum mismatch at byte {offset}");
                long expected = (long)BinaryPrimitives.ReadUInt64LittleEndian(countBytes);
                if (expected != count)
                    throw new BackupCorruptionException(name, $"the trailer counts {expected} records, the file holds {count}");
                if (stream.ReadByte() >= 0)
                    throw new BackupCorruptionException(name, $"bytes after the trailer at byte {offset + 16}");
                yield break;
            }
            if (length > MaxPayload || length < 6)
                throw new BackupCorruptionException(name, $"bad record length {length} at byte {offset}");
            var payload = new byte[length];
            if (ReadFully(stream, payload) < length)
                throw new BackupCorruptionException(name, $"cut short in the record at byte {offset}");
            if (BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(4)) != Crc32C.Compute(payload))
                throw new BackupCorruptionException(name, $"record checksum mismatch at byte {offset}");
            var record = Parse(payload) ?? throw new BackupCorruptionException(name, $"malformed record at byte {offset}");
            try
            {
                KvObjectCodec.Validate(record.Object);
            }
            catch (FormatException e)
            {
                throw new BackupCorruptionException(name, $"the object of the record at byte {offset} does not decode: {e.Message}");
            }
            offset += 8 + length;
            count++;
            yield return record;
        }
    }

    /// <summary>Reads a file (see <see cref="Read(Stream, string, Action{Header})"/>) by path; the name reported is the file's name.</summary>
    public static IEnumerable<BackupRecord> Read(string path, Action<Header>? onHeader = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        foreach (var record in Read(stream, Path.GetFileName(path), onHeader))
            yield return record;
    }

    private static BackupRecord? Parse(byte[] p)
    {
        int nsLength = p[0];
        if (nsLength == 0 || 1 + nsLength + 4 > p.Length)
            return null;
        long keyLength = BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(1 + nsLength));
        long objStart = 5 + nsLength + keyLength;
        if (keyLength == 0 || objStart > p.Length)
            return null;
        return new BackupRecord(p[1..(1 + nsLength)], p[(5 + nsLength)..(int)objStart], p[(int)objStart..]);
    }

    private static int ReadFully(Stream stream, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer, read, buffer.Length - read);
            if (n == 0)
                break;
            read += n;
        }
        return read;
    }
}
