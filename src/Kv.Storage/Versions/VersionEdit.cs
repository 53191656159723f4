using System.Buffers;
using System.Text;
using Kv.Storage.Util;

namespace Kv.Storage.Versions;

/// <summary>
/// One change to the set of live files, logged as a MANIFEST record: tagged fields, each a varint tag
/// followed by its payload (docs/manifest-format.md).
/// </summary>
internal sealed class VersionEdit
{
    private const uint TagComparator = 1;
    private const uint TagLogNumber = 2;
    private const uint TagNextFile = 3;
    private const uint TagLastSequence = 4;
    private const uint TagCompactPointer = 5;
    private const uint TagDeletedFile = 6;
    private const uint TagNewFile = 7;
    private const uint TagCommitLogFloor = 9;
    private const uint TagFileOrder = 10;

    public const string ComparatorName = "kv.bytewise.v1";

    public string? Comparator { get; set; }

    public long? LogNumber { get; set; }

    public long? NextFileNumber { get; set; }

    public ulong? LastSequence { get; set; }

    /// <summary>With a shared commit log: every write at or below this sequence is in a table (replay skips it).</summary>
    public ulong? CommitLogFloor { get; set; }

    public List<(int Level, byte[] Key)> CompactPointers { get; } = [];

    public List<(int Level, long Number)> DeletedFiles { get; } = [];

    public List<(int Level, FileMetadata File)> NewFiles { get; } = [];

    public byte[] Encode()
    {
        var w = new ArrayBufferWriter<byte>(256);
        if (Comparator is not null)
        {
            PutVarint(w, TagComparator);
            PutBytes(w, Encoding.UTF8.GetBytes(Comparator));
        }
        if (LogNumber is long log)
        {
            PutVarint(w, TagLogNumber);
            PutVarint(w, (ulong)log);
        }
        if (NextFileNumber is long next)
        {
            PutVarint(w, TagNextFile);
            PutVarint(w, (ulong)next);
        }
        if (LastSequence is ulong seq)
        {
            PutVarint(w, TagLastSequence);
            PutVarint(w, seq);
        }
        if (CommitLogFloor is ulong floor)
        {
            PutVarint(w, TagCommitLogFloor);
            PutVarint(w, floor);
        }
        foreach ((int level, byte[] key) in CompactPointers)
        {
            PutVarint(w, TagCompactPointer);
            PutVarint(w, (ulong)level);
            PutBytes(w, key);
        }
        foreach ((int level, long number) in DeletedFiles)
        {
            PutVarint(w, TagDeletedFile);
            PutVarint(w, (ulong)level);
            PutVarint(w, (ulong)number);
        }
        foreach ((int level, FileMetadata f) in NewFiles)
        {
            PutVarint(w, TagNewFile);
            PutVarint(w, (ulong)level);
            PutVarint(w, (ulong)f.Number);
            PutVarint(w, (ulong)f.Size);
            PutBytes(w, f.Smallest);
            PutBytes(w, f.Largest);
            if (f.OrderNumber != f.Number)
            {
                // Only repaired level-0 tables have one; older readers refuse the unknown tag.
                PutVarint(w, TagFileOrder);
                PutVarint(w, (ulong)f.Number);
                PutVarint(w, (ulong)f.OrderNumber);
            }
        }
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Decodes one record; null (with a reason) if it is malformed.</summary>
    public static VersionEdit? TryDecode(ReadOnlySpan<byte> src, out string error)
    {
        var e = new VersionEdit();
        int pos = 0;
        error = string.Empty;
        Dictionary<long, long>? orders = null;
        while (pos < src.Length)
        {
            if (!Coding.TryGetVarint64(src, ref pos, out ulong tag))
            {
                error = "bad tag";
                return null;
            }
            bool ok;
            switch (tag)
            {
                case TagComparator:
                    ok = Coding.TryGetLengthPrefixed(src, ref pos, out ReadOnlySpan<byte> name);
                    e.Comparator = ok ? Encoding.UTF8.GetString(name) : null;
                    break;
                case TagLogNumber:
                    ok = GetLong(src, ref pos, out long log);
                    e.LogNumber = log;
                    break;
                case TagNextFile:
                    ok = GetLong(src, ref pos, out long next);
                    e.NextFileNumber = next;
                    break;
                case TagLastSequence:
                    ok = Coding.TryGetVarint64(src, ref pos, out ulong seq) && seq <= InternalKey.MaxSequence;
                    e.LastSequence = seq;
                    break;
                case TagCommitLogFloor:
                    ok = Coding.TryGetVarint64(src, ref pos, out ulong floor) && floor <= InternalKey.MaxSequence;
                    e.CommitLogFloor = floor;
                    break;
                case TagCompactPointer:
                {
                    byte[] cpKey = [];
                    ok = GetLevel(src, ref pos, out int cpLevel) && GetKey(src, ref pos, out cpKey);
                    if (ok)
                    {
                        e.CompactPointers.Add((cpLevel, cpKey));
                    }
                    break;
                }
                case TagDeletedFile:
                {
                    long delNumber = 0;
                    ok = GetLevel(src, ref pos, out int delLevel) && GetLong(src, ref pos, out delNumber);
                    if (ok)
                    {
                        e.DeletedFiles.Add((delLevel, delNumber));
                    }
                    break;
                }
                case TagNewFile:
                {
                    long number = 0;
                    long size = 0;
                    byte[] smallest = [];
                    byte[] largest = [];
                    ok = GetLevel(src, ref pos, out int level)
                        && GetLong(src, ref pos, out number)
                        && GetLong(src, ref pos, out size)
                        && GetKey(src, ref pos, out smallest)
                        && GetKey(src, ref pos, out largest)
                        && InternalKey.Compare(smallest, largest) <= 0;
                    if (ok)
                    {
                        e.NewFiles.Add((level, new FileMetadata(number, size, smallest, largest)));
                    }
                    break;
                }
                case TagFileOrder:
                {
                    long number = 0;
                    long order = 0;
                    ok = GetLong(src, ref pos, out number) && GetLong(src, ref pos, out order);
                    if (ok)
                    {
                        orders ??= [];
                        orders[number] = order;
                    }
                    break;
                }
                default:
                    error = $"unknown tag {tag}";
                    return null;
            }
            if (!ok)
            {
                error = $"bad field for tag {tag}";
                return null;
            }
        }
        if (orders is not null)
        {
            // An order number belongs to a file the same edit adds.
            for (int i = 0; i < e.NewFiles.Count; i++)
            {
                (int level, FileMetadata f) = e.NewFiles[i];
                if (orders.Remove(f.Number, out long order))
                {
                    e.NewFiles[i] = (level, new FileMetadata(f.Number, f.Size, f.Smallest, f.Largest, order));
                }
            }
            if (orders.Count > 0)
            {
                error = $"order number for file {orders.Keys.First()}, which the edit does not add";
                return null;
            }
        }
        return e;
    }

    private static bool GetLong(ReadOnlySpan<byte> src, ref int pos, out long value)
    {
        bool ok = Coding.TryGetVarint64(src, ref pos, out ulong v) && v <= long.MaxValue;
        value = (long)v;
        return ok;
    }

    private static bool GetLevel(ReadOnlySpan<byte> src, ref int pos, out int level)
    {
        bool ok = Coding.TryGetVarint32(src, ref pos, out uint v) && v < Version.NumLevels;
        level = (int)v;
        return ok;
    }

    private static bool GetKey(ReadOnlySpan<byte> src, ref int pos, out byte[] key)
    {
        bool ok = Coding.TryGetLengthPrefixed(src, ref pos, out ReadOnlySpan<byte> k) && k.Length >= InternalKey.TagSize;
        key = ok ? k.ToArray() : [];
        return ok;
    }

    private static void PutVarint(ArrayBufferWriter<byte> w, ulong v)
    {
        int n = Coding.PutVarint64(w.GetSpan(Coding.MaxVarint64Length), v);
        w.Advance(n);
    }

    private static void PutBytes(ArrayBufferWriter<byte> w, ReadOnlySpan<byte> b)
    {
        PutVarint(w, (ulong)b.Length);
        w.Write(b);
    }
}
