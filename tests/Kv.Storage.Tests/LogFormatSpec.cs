using System.Text;
using Kv.Storage.IO;
using Kv.Storage.Util;
using Kv.Storage.Wal;

namespace Kv.Storage.Tests;

public class LogFormatSpec
{
    private const string Path = "/db/000001.log";

    private static FaultInjectionFileSystem WriteLog(params byte[][] records)
    {
        var fs = new FaultInjectionFileSystem();
        using var w = new LogWriter(fs.Create(Path));
        foreach (byte[] r in records)
        {
            w.AddRecord(r);
        }
        w.Sync();
        return fs;
    }

    private static (List<byte[]> Records, LogReader Reader) ReadAll(FaultInjectionFileSystem fs)
    {
        var list = new List<byte[]>();
        using IRandomAccessFile f = fs.OpenRead(Path);
        var reader = new LogReader(f, "000001.log");
        while (reader.TryRead(out ReadOnlySpan<byte> rec))
        {
            list.Add(rec.ToArray());
        }
        return (list, reader);
    }

    private static (List<byte[]> Records, LogReader Reader) ReadPreallocated(FaultInjectionFileSystem fs, bool preallocated = true)
    {
        var list = new List<byte[]>();
        using IRandomAccessFile f = fs.OpenRead(Path);
        var reader = new LogReader(f, "000001.log", preallocated);
        while (reader.TryRead(out ReadOnlySpan<byte> rec))
        {
            list.Add(rec.ToArray());
        }
        return (list, reader);
    }

    private static FaultInjectionFileSystem WritePreallocated(long bytes, params byte[][] records)
    {
        var fs = new FaultInjectionFileSystem();
        using var w = new LogWriter(fs.CreatePreallocated(Path, bytes));
        foreach (byte[] r in records)
        {
            w.AddRecord(r);
        }
        w.Sync();
        return fs;
    }

    [Fact]
    public void A_preallocated_log_ends_cleanly_at_its_zeros()
    {
        byte[][] records = [Filled(10, 1), Filled(LogFormat.BlockSize + 500, 2), Filled(3, 3)];
        FaultInjectionFileSystem fs = WritePreallocated(4L * LogFormat.BlockSize, records);
        Assert.Equal(4L * LogFormat.BlockSize, fs.GetLength(Path));
        var (read, reader) = ReadPreallocated(fs);
        Assert.Equal(records, read);
        Assert.Equal(LogEnd.EndOfFile, reader.End);
        Assert.Equal(10 + LogFormat.BlockSize + 500 + 3 + 4 * LogFormat.HeaderSize, reader.GoodLength);
        // A reader not told the log is preallocated takes the zeros for a torn tail, as before.
        Assert.Equal(LogEnd.TornTail, ReadPreallocated(fs, preallocated: false).Reader.End);
        // Empty: zeros from the first byte.
        var (none, emptyReader) = ReadPreallocated(WritePreallocated(2L * LogFormat.BlockSize));
        Assert.Empty(none);
        Assert.Equal(LogEnd.EndOfFile, emptyReader.End);
    }

    [Fact]
    public void In_a_preallocated_log_a_torn_record_is_a_torn_tail_and_zeros_before_a_record_are_corruption()
    {
        // A record cut short by a crash: its tail reads as the preallocated zeros.
        var fs = new FaultInjectionFileSystem();
        using (var w = new LogWriter(fs.CreatePreallocated(Path, 4L * LogFormat.BlockSize)))
        {
            fs.SyncDirectory("/db");
            w.AddRecord(Filled(100, 1));
            w.Sync();
            w.AddRecord(Filled(5000, 2));
        }
        fs.Crash(new Random(3));
        var (read, reader) = ReadPreallocated(fs);
        Assert.Single(read);
        Assert.True(reader.End is LogEnd.TornTail or LogEnd.EndOfFile, reader.End.ToString()); // EndOfFile: nothing of it kept
        // Zeros where a record should start, then a valid record in a later block: not an end.
        FaultInjectionFileSystem damaged = WritePreallocated(4L * LogFormat.BlockSize, Filled(100, 1), Filled(LogFormat.BlockSize, 2), Filled(50, 3));
        for (int i = 0; i < LogFormat.HeaderSize; i++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                using IRandomAccessFile f = damaged.OpenRead(Path);
                byte[] one = new byte[1];
                f.Read(100 + LogFormat.HeaderSize + i, one);
                if ((one[0] & (1 << bit)) != 0)
                {
                    damaged.FlipBit(Path, 100 + LogFormat.HeaderSize + i, bit);
                }
            }
        }
        var (before, damagedReader) = ReadPreallocated(damaged);
        Assert.Single(before);
        Assert.Equal(LogEnd.Corruption, damagedReader.End);
    }

    private static byte[] Filled(int length, byte seed)
    {
        var b = new byte[length];
        for (int i = 0; i < b.Length; i++)
        {
            b[i] = (byte)(seed + i * 31);
        }
        return b;
    }

    [Fact]
    public void Crc32c_matches_the_standard_check_value_and_masks_reversibly()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
        uint c = Crc32C.Compute("hello"u8);
        Assert.NotEqual(c, Crc32C.Mask(c));
        Assert.Equal(c, Crc32C.Unmask(Crc32C.Mask(c)));
        Assert.Equal(Crc32C.Compute("hello world"u8), Crc32C.Extend(Crc32C.Compute("hello "u8), "world"u8));
    }

    [Fact]
    public void A_record_is_written_byte_exactly_as_documented()
    {
        FaultInjectionFileSystem fs = WriteLog(Encoding.ASCII.GetBytes("kv"));
        using IRandomAccessFile f = fs.OpenRead(Path);
        var bytes = new byte[f.Length];
        f.Read(0, bytes);
        // masked crc32c(type 1 + "kv") LE, length 2 LE, type FULL, payload. The CRC bytes were
        // computed by an independent bitwise CRC32C (Python), not by this code.
        uint crc = Crc32C.Mask(Crc32C.Compute([1, (byte)'k', (byte)'v']));
        byte[] expected = [(byte)crc, (byte)(crc >> 8), (byte)(crc >> 16), (byte)(crc >> 24), 2, 0, 1, (byte)'k', (byte)'v'];
        Assert.Equal(expected, bytes);
        Assert.Equal("BF-61-10-3C-02-00-01-6B-76", BitConverter.ToString(bytes));
    }

    [Fact]
    public void Records_spanning_several_blocks_round_trip()
    {
        byte[] big = Filled(3 * LogFormat.BlockSize + 123, 7);
        byte[] small = Filled(10, 3);
        FaultInjectionFileSystem fs = WriteLog(small, big, small, Filled(LogFormat.BlockSize, 9));
        (List<byte[]> records, LogReader reader) = ReadAll(fs);
        Assert.Equal(LogEnd.EndOfFile, reader.End);
        Assert.Equal(4, records.Count);
        Assert.Equal(big, records[1]);
        Assert.Equal(small, records[2]);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(6)]
    [InlineData(1)]
    [InlineData(0)]
    public void When_fewer_than_seven_bytes_remain_the_block_is_padded(int leftover)
    {
        // First record leaves exactly `leftover` bytes in block 0.
        byte[] first = Filled(LogFormat.BlockSize - LogFormat.HeaderSize - leftover, 1);
        byte[] second = Filled(100, 2);
        FaultInjectionFileSystem fs = WriteLog(first, second);
        (List<byte[]> records, LogReader reader) = ReadAll(fs);
        Assert.Equal(LogEnd.EndOfFile, reader.End);
        Assert.Equal([first, second], records);
        Assert.Equal(LogFormat.BlockSize + LogFormat.HeaderSize + 100, fs.GetLength(Path));
        using IRandomAccessFile f = fs.OpenRead(Path);
        var gap = new byte[leftover];
        f.Read(LogFormat.BlockSize - leftover, gap);
        if (leftover < LogFormat.HeaderSize)
        {
            Assert.All(gap, b => Assert.Equal(0, b)); // zero-filled trailer
        }
        else
        {
            // Exactly 7 bytes left: they hold an empty FIRST fragment; the payload follows as LAST.
            Assert.Equal(new byte[] { 0, 0, LogFormat.FirstType }, gap[4..]);
        }
    }

    [Fact]
    public void A_torn_tail_at_every_offset_yields_exactly_the_whole_records_before_it()
    {
        byte[][] records = [Filled(100, 1), Filled(LogFormat.BlockSize, 2), Filled(50, 3), Filled(5000, 4)];
        FaultInjectionFileSystem full = WriteLog(records);
        long length = full.GetLength(Path);
        var ends = new List<long>();
        long pos = 0;
        foreach (byte[] r in records)
        {
            // Whole-record end offsets, computed by writing prefixes.
            FaultInjectionFileSystem prefix = WriteLog(records[..(ends.Count + 1)]);
            ends.Add(prefix.GetLength(Path));
            pos += r.Length;
        }
        for (long cut = 0; cut <= length; cut++)
        {
            FaultInjectionFileSystem fs = WriteLog(records);
            fs.Truncate(Path, cut);
            (List<byte[]> got, LogReader reader) = ReadAll(fs);
            int whole = ends.Count(e => e <= cut);
            Assert.Equal(whole, got.Count);
            for (int i = 0; i < whole; i++)
            {
                Assert.Equal(records[i], got[i]);
            }
            Assert.NotEqual(LogEnd.Corruption, reader.End);
        }
    }

    [Theory]
    [InlineData(0, "checksum")] // crc
    [InlineData(4, "")] // length
    [InlineData(6, "")] // type
    [InlineData(9, "checksum")] // payload
    public void A_flipped_bit_in_a_middle_record_is_corruption_not_a_skip(int offsetInSecondRecord, string detail)
    {
        byte[][] records = [Filled(100, 1), Filled(100, 2), Filled(100, 3), Filled(LogFormat.BlockSize, 4), Filled(100, 5)];
        FaultInjectionFileSystem fs = WriteLog(records);
        long second = LogFormat.HeaderSize + 100;
        fs.FlipBit(Path, second + offsetInSecondRecord, 1);
        (List<byte[]> got, LogReader reader) = ReadAll(fs);
        Assert.Single(got);
        Assert.Equal(records[0], got[0]);
        Assert.Equal(LogEnd.Corruption, reader.End);
        Assert.Equal(second, reader.ErrorOffset);
        Assert.Contains(detail, reader.ErrorDetail, StringComparison.Ordinal);
    }

    [Fact]
    public void Damage_in_the_last_block_with_nothing_valid_after_it_is_a_torn_tail()
    {
        FaultInjectionFileSystem fs = WriteLog(Filled(100, 1), Filled(100, 2));
        fs.FlipBit(Path, LogFormat.HeaderSize + 100 + 20, 0);
        (List<byte[]> got, LogReader reader) = ReadAll(fs);
        Assert.Single(got);
        Assert.Equal(LogEnd.TornTail, reader.End);
    }

    private static FaultInjectionFileSystem WriteRecyclable(FaultInjectionFileSystem? reuse, uint number, bool markEnd, params byte[][] records)
    {
        var fs = reuse ?? new FaultInjectionFileSystem();
        using var w = new LogWriter(reuse is null ? fs.CreatePreallocated(Path, 8L * LogFormat.BlockSize) : fs.Reuse(Path), number);
        foreach (byte[] r in records)
        {
            w.AddRecord(r);
        }
        if (markEnd)
        {
            w.MarkEnd();
        }
        w.Sync();
        return fs;
    }

    private static bool Same(IEnumerable<byte[]> a, IEnumerable<byte[]> b) =>
        a.Count() == b.Count() && a.Zip(b).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    private static (List<byte[]> Records, LogReader Reader) ReadRecyclable(FaultInjectionFileSystem fs, uint number)
    {
        var list = new List<byte[]>();
        using IRandomAccessFile f = fs.OpenRead(Path);
        var reader = new LogReader(f, "000001.clog", preallocated: true, number);
        while (reader.TryRead(out ReadOnlySpan<byte> rec))
        {
            list.Add(rec.ToArray());
        }
        return (list, reader);
    }

    [Fact]
    public void A_recyclable_record_carries_its_log_number_under_the_checksum()
    {
        FaultInjectionFileSystem fs = WriteRecyclable(null, 0x01020304, markEnd: false, Encoding.ASCII.GetBytes("kv"));
        using IRandomAccessFile f = fs.OpenRead(Path);
        var bytes = new byte[13];
        f.Read(0, bytes);
        uint crc = Crc32C.Mask(Crc32C.Compute([5, 4, 3, 2, 1, (byte)'k', (byte)'v']));
        byte[] expected = [(byte)crc, (byte)(crc >> 8), (byte)(crc >> 16), (byte)(crc >> 24), 2, 0, 5, 4, 3, 2, 1, (byte)'k', (byte)'v'];
        Assert.Equal(expected, bytes);
        Assert.Equal([Encoding.ASCII.GetBytes("kv")], ReadRecyclable(fs, 0x01020304).Records);
        // The same intact record read as another log's: what a reused file held before, so nothing.
        var (other, reader) = ReadRecyclable(fs, 0x01020305);
        Assert.Empty(other);
        Assert.Equal(LogEnd.EndOfFile, reader.End);
    }

    [Fact]
    public void A_reused_log_yields_exactly_its_own_records_whatever_the_file_held_before()
    {
        // Same sizes: the new records end exactly where an intact old one starts, and it is not read.
        byte[][] hundred = [.. Enumerable.Range(0, 30).Select(i => Filled(100, (byte)i))];
        FaultInjectionFileSystem same = WriteRecyclable(WriteRecyclable(null, 41, markEnd: false, hundred), 42, markEnd: false, hundred[..12]);
        var (twelve, sameReader) = ReadRecyclable(same, 42);
        Assert.Equal(hundred[..12], twelve);
        Assert.Equal(LogEnd.EndOfFile, sameReader.End);
        for (int seed = 0; seed < 300; seed++)
        {
            var rng = new Random(seed);
            byte[][] Records(int budget)
            {
                var list = new List<byte[]>();
                for (int used = 0; used < budget;)
                {
                    // Mostly small records, some near a block, so fragments and block ends land everywhere.
                    int n = rng.Next(4) == 0 ? rng.Next(LogFormat.BlockSize - 40, LogFormat.BlockSize + 40) : rng.Next(0, 3000);
                    list.Add(Filled(n, (byte)rng.Next(256)));
                    used += n + LogFormat.RecyclableHeaderSize;
                }
                return [.. list];
            }
            byte[][] old = Records(rng.Next(1, 7 * LogFormat.BlockSize));
            FaultInjectionFileSystem fs = WriteRecyclable(null, 41, markEnd: rng.Next(2) == 0, old);
            byte[][] fresh = Records(rng.Next(0, 7 * LogFormat.BlockSize));
            bool markEnd = rng.Next(3) != 0;
            WriteRecyclable(fs, 42, markEnd, fresh);
            var (read, reader) = ReadRecyclable(fs, 42);
            Assert.True(Same(fresh, read), $"seed {seed}: read {read.Count} records, wrote {fresh.Length}");
            // Marked, the end is clean; unmarked, what follows may be the middle of an old record
            // (a torn tail), but never corruption: the old records are not this log's.
            Assert.True(markEnd ? reader.End == LogEnd.EndOfFile : reader.End != LogEnd.Corruption, $"seed {seed}: {reader.End} ({reader.ErrorDetail})");
        }
    }

    [Theory]
    [InlineData(LogFormat.RecyclableHeaderSize)]
    [InlineData(10)]
    [InlineData(7)]
    [InlineData(6)]
    [InlineData(0)]
    public void In_a_recyclable_log_fewer_than_eleven_bytes_left_in_a_block_are_zero_filled(int leftover)
    {
        byte[] first = Filled(LogFormat.BlockSize - LogFormat.RecyclableHeaderSize - leftover, 1);
        byte[] second = Filled(100, 2);
        FaultInjectionFileSystem fs = WriteRecyclable(null, 9, markEnd: true, first, second);
        var (read, reader) = ReadRecyclable(fs, 9);
        Assert.Equal([first, second], read);
        Assert.Equal(LogEnd.EndOfFile, reader.End);
    }

    [Fact]
    public void Damage_in_a_reused_log_is_corruption_only_if_one_of_its_own_records_follows()
    {
        byte[][] old = [.. Enumerable.Range(0, 40).Select(i => Filled(1000, (byte)i))];
        byte[][] fresh = [Filled(100, 1), Filled(100, 2), Filled(LogFormat.BlockSize, 3), Filled(100, 4)];
        FaultInjectionFileSystem fs = WriteRecyclable(WriteRecyclable(null, 1, markEnd: true, old), 2, markEnd: true, fresh);
        fs.FlipBit(Path, LogFormat.RecyclableHeaderSize + 100 + 20, 3); // the second record's header
        var (read, reader) = ReadRecyclable(fs, 2);
        Assert.Equal([fresh[0]], read);
        Assert.Equal(LogEnd.Corruption, reader.End);
        // Damage to its last record, followed only by the old log's records: a torn tail.
        fs = WriteRecyclable(WriteRecyclable(null, 1, markEnd: true, old), 2, markEnd: false, fresh);
        long last;
        using (IRandomAccessFile f = fs.OpenRead(Path))
        {
            var reader2 = new LogReader(f, "x", preallocated: true, 2);
            for (int i = 0; i < fresh.Length - 1; i++)
                Assert.True(reader2.TryRead(out _));
            last = reader2.GoodLength;
        }
        fs.FlipBit(Path, last + LogFormat.RecyclableHeaderSize + 5, 0);
        var (cut, tornReader) = ReadRecyclable(fs, 2);
        Assert.Equal(fresh[..^1], cut);
        Assert.Equal(LogEnd.TornTail, tornReader.End);
    }

    [Fact]
    public void After_a_crash_a_reused_log_yields_a_prefix_holding_every_synced_record()
    {
        for (int seed = 0; seed < 100; seed++)
        {
            var rng = new Random(seed);
            byte[][] old = [.. Enumerable.Range(0, 60).Select(i => Filled(rng.Next(50, 4000), (byte)i))];
            FaultInjectionFileSystem fs = WriteRecyclable(null, 5, markEnd: true, old);
            fs.SyncDirectory("/db");
            var fresh = new List<byte[]>();
            int synced = 0;
            using (var w = new LogWriter(fs.Reuse(Path), 6))
            {
                for (int i = 0; i < 40; i++)
                {
                    fresh.Add(Filled(rng.Next(0, 5000), (byte)(100 + i)));
                    w.AddRecord(fresh[^1]);
                    if (rng.Next(8) == 0)
                    {
                        w.Sync();
                        synced = fresh.Count;
                    }
                }
                w.Flush();
            }
            fs.Crash(rng.Next(2) == 0 ? rng : null);
            var (read, reader) = ReadRecyclable(fs, 6);
            Assert.True(read.Count >= synced, $"seed {seed}: {read.Count} records, {synced} were synced");
            Assert.True(Same(fresh.Take(read.Count), read), $"seed {seed}: not a prefix");
            Assert.NotEqual(LogEnd.Corruption, reader.End);
        }
    }
}
