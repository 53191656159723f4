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
            try
            {
                KvObjectCodec.Decode(damaged); // may still parse; must never throw anything else
            }
            catch (FormatException)
            {
            }
        }
    }
}
