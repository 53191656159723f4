using System.Text;
using Kv.Actors.Objects;

namespace Kv.Actors.Tests;

public sealed class KvObjectCodecSpec
{
    [Fact]
    public void Objects_round_trip_and_damaged_bytes_are_rejected()
    {
        var a = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(Encoding.UTF8.GetBytes("a"), "text/plain", 42, false)), "r0");
        var b = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(Sibling.Tombstone(43)), a, "r1");
        var both = DvvSet<Sibling>.Sync(a, b);
        var bytes = KvObjectCodec.Encode(both);
        Assert.True(KvObjectCodec.Decode(bytes).SameAs(both));
        Assert.Throws<FormatException>(() => KvObjectCodec.Decode(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Throws<FormatException>(() => KvObjectCodec.Decode([.. bytes, 0]));
        var wrongVersion = (byte[])bytes.Clone();
        wrongVersion[0] = 9;
        Assert.Throws<FormatException>(() => KvObjectCodec.Decode(wrongVersion));
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[rng.Next(damaged.Length)] ^= (byte)(1 << rng.Next(8));
            bool decodes = Parses(() => KvObjectCodec.Decode(damaged)); // may still parse; must never throw anything else
            Assert.Equal(decodes, Parses(() => KvObjectCodec.Validate(damaged)));
            int cut = rng.Next(damaged.Length + 1);
            Assert.Equal(Parses(() => KvObjectCodec.Decode(damaged.AsSpan(0, cut))), Parses(() => KvObjectCodec.Validate(damaged.AsSpan(0, cut))));
        }
        KvObjectCodec.Validate(bytes);
    }

    private static bool Parses(Action parse)
    {
        try
        {
            parse();
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    [Fact]
    public void Encoding_is_sized_exactly_for_entries_siblings_tombstones_and_non_ascii_text()
    {
        var one = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling(new byte[1000], "application/é", 1, false)), "p1-ü");
        var two = DvvSet<Sibling>.Create(DvvSet<Sibling>.New(new Sibling([1, 2, 3], "", 2, false)), "p2");
        var three = DvvSet<Sibling>.Update(DvvSet<Sibling>.New(Sibling.Tombstone(3)), two, "p2");
        foreach (var obj in new[] { DvvSet<Sibling>.Empty, one, DvvSet<Sibling>.Sync(one, two), DvvSet<Sibling>.Sync(one, three) })
        {
            var bytes = KvObjectCodec.Encode(obj);
            KvObjectCodec.Validate(bytes);
            Assert.True(KvObjectCodec.Decode(bytes).SameAs(obj));
        }
    }
}
