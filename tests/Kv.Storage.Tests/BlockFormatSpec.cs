using System.Text;
using Kv.Storage.Table;

namespace Kv.Storage.Tests;

public class BlockFormatSpec
{
    private static byte[] Key(string user, ulong seq) => InternalKey.Make(Encoding.ASCII.GetBytes(user), seq, EntryType.Value);

    [Fact]
    public void A_block_is_encoded_byte_exactly_with_prefix_compression_and_restarts()
    {
        var b = new BlockBuilder(2);
        b.Add(Key("ab", 1), "x"u8);
        b.Add(Key("ac", 1), "y"u8);
        b.Add(Key("ad", 1), ""u8);
        byte[] bytes = b.Finish().ToArray();
        const string Tag = "01-01-00-00-00-00-00-00";
        string expected = string.Join("-",
            "00-0A-01", "61-62", Tag, "78",          // shared 0, unshared 10, vlen 1, "ab"+tag, "x"
            "01-09-01", "63", Tag, "79",             // shared 1 ("a"), unshared 9, "c"+tag, "y"
            "00-0A-00", "61-64", Tag,                // restart: shared 0, "ad"+tag, no value
            "00-00-00-00", "1B-00-00-00",            // restart offsets 0 and 27
            "02-00-00-00");                          // two restarts
        Assert.Equal(expected, BitConverter.ToString(bytes));
    }

    [Fact]
    public void Block_iterator_seeks_and_scans_in_internal_key_order()
    {
        var b = new BlockBuilder(16);
        var keys = new List<byte[]>();
        for (int i = 0; i < 200; i++)
        {
            keys.Add(Key($"key{i:D4}", 5));
        }
        foreach (byte[] k in keys)
        {
            b.Add(k, k);
        }
        var block = new Block(b.Finish().ToArray(), "t", 0);
        BlockIterator it = block.NewIterator();
        int n = 0;
        for (it.SeekToFirst(); it.Valid; it.Next())
        {
            Assert.Equal(keys[n], it.Key.ToArray());
            Assert.Equal(keys[n], it.Value.ToArray());
            n++;
        }
        Assert.Equal(200, n);
        it.Seek(Key("key0100", 9));
        Assert.Equal(keys[100], it.Key.ToArray());
        it.Seek(Key("key0100", 1)); // older than the stored seq 5: next user key
        Assert.Equal(keys[101], it.Key.ToArray());
        it.Seek(Key("zzz", 1));
        Assert.False(it.Valid);
    }

    [Fact]
    public void A_damaged_restart_array_is_reported_as_corruption()
    {
        var b = new BlockBuilder(16);
        b.Add(Key("a", 1), "v"u8);
        byte[] bytes = b.Finish().ToArray();
        bytes[^4] = 0xFF;
        var e = Assert.Throws<StorageCorruptionException>(() => new Block(bytes, "000007.sst", 4096));
        Assert.Equal("000007.sst", e.FileName);
        Assert.Equal(4096, e.Offset);
    }

    [Fact]
    public void Bloom_filter_has_no_false_negatives_and_about_one_percent_false_positives()
    {
        var hashes = new List<uint>();
        for (int i = 0; i < 10000; i++)
        {
            hashes.Add(BloomFilter.Hash(Encoding.ASCII.GetBytes($"present{i}")));
        }
        byte[] filter = BloomFilter.Build(hashes, 10);
        foreach (uint h in hashes)
        {
            Assert.True(BloomFilter.MayContain(filter, h));
        }
        int falsePositives = 0;
        for (int i = 0; i < 10000; i++)
        {
            if (BloomFilter.MayContain(filter, BloomFilter.Hash(Encoding.ASCII.GetBytes($"absent{i}"))))
            {
                falsePositives++;
            }
        }
        Assert.InRange(falsePositives, 0, 200); // ~1% expected; 2% bound
    }
}
