using System.Buffers.Binary;
using System.Security.Cryptography;
using Kv.Actors.Ring;
using Xunit;

namespace Kv.Actors.Tests;

public class Sha1Spec
{
    [Fact]
    public void Managed_sha1_matches_the_platform_on_every_length_around_the_block_boundaries()
    {
        var random = new Random(7);
        for (int length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            ulong expected = BinaryPrimitives.ReadUInt64BigEndian(SHA1.HashData(data));
            Assert.True(expected == Sha1.Prefix64(data), $"length {length}");
        }
        var big = new byte[100_000];
        random.NextBytes(big);
        Assert.Equal(BinaryPrimitives.ReadUInt64BigEndian(SHA1.HashData(big)), Sha1.Prefix64(big));
    }

    [Fact]
    public void Known_answer_abc() =>
        // FIPS 180-4 example: SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d
        Assert.Equal(0xa9993e364706816aUL, Sha1.Prefix64("abc"u8));
}
