using System.Buffers;
using Google.Protobuf;
using Kv.Cluster.Remote;
using Kv.Cluster.Remote.Protos;

namespace Kv.Cluster.Tests;

/// <summary>The hand-written envelope codec against the protobuf message it stands in for.</summary>
public sealed class EnvelopeCodecSpec
{
    private static RemoteEnvelope RandomEnvelope(Random random)
    {
        string Path(int max) => random.Next(4) == 0 ? "" : "/user/" + new string('x', random.Next(max)) + "/é€" + random.Next();
        var payload = new byte[random.Next(4) == 0 ? 0 : random.Next(1, random.Next(2) == 0 ? 40 : 70_000)];
        random.NextBytes(payload);
        return new RemoteEnvelope
        {
            Target = Path(10),
            Sender = random.Next(3) == 0 ? "" : "kv://kv@127.0.0.1:4000" + Path(300),
            SerializerId = random.Next(3) == 0 ? 0u : (uint)random.Next(1, int.MaxValue >> random.Next(31)),
            TypeId = random.Next(3) == 0 ? 0u : (uint)random.Next(1, int.MaxValue >> random.Next(31)),
            Payload = ByteString.CopyFrom(payload),
        };
    }

    private static byte[] ProtobufFrame(RemoteEnvelope e)
    {
        var buffer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(buffer, FrameKind.Envelope, e);
        return buffer.WrittenSpan.ToArray();
    }

    private static RemoteEnvelope FromLayout(ReadOnlySpan<byte> body, EnvelopeLayout l) => new()
    {
        Target = System.Text.Encoding.UTF8.GetString(body.Slice(l.TargetOffset, l.TargetLength)),
        Sender = System.Text.Encoding.UTF8.GetString(body.Slice(l.SenderOffset, l.SenderLength)),
        SerializerId = l.SerializerId,
        TypeId = l.TypeId,
        Payload = ByteString.CopyFrom(body.Slice(l.PayloadOffset, l.PayloadLength)),
    };

    [Fact]
    public void Writes_the_same_bytes_as_protobuf_and_reads_what_protobuf_writes()
    {
        var random = new Random(11);
        for (int i = 0; i < 500; i++)
        {
            var e = RandomEnvelope(random);
            var frame = EnvelopeCodec.ToFrame(System.Text.Encoding.UTF8.GetBytes(e.Target), System.Text.Encoding.UTF8.GetBytes(e.Sender), e.SerializerId, e.TypeId, e.Payload.Span, out int length);
            var expected = ProtobufFrame(e);
            Assert.Equal(length, frame.Length);
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(frame));

            var body = expected.AsSpan(FrameCodec.HeaderSize);
            Assert.Equal(e, FromLayout(body, EnvelopeCodec.Read(body)));
        }
    }

    [Fact]
    public void Reads_fields_in_any_order_last_one_wins_and_skips_unknown_fields()
    {
        var output = new MemoryStream();
        var cos = new CodedOutputStream(output);
        cos.WriteTag(99, WireFormat.WireType.Varint);
        cos.WriteUInt64(ulong.MaxValue);
        cos.WriteTag(5, WireFormat.WireType.LengthDelimited);
        cos.WriteBytes(ByteString.CopyFromUtf8("payload"));
        cos.WriteTag(4, WireFormat.WireType.Varint);
        cos.WriteUInt32(7);
        cos.WriteTag(1, WireFormat.WireType.LengthDelimited);
        cos.WriteString("/user/first");
        cos.WriteTag(12, WireFormat.WireType.Fixed64);
        cos.WriteFixed64(1);
        cos.WriteTag(13, WireFormat.WireType.Fixed32);
        cos.WriteFixed32(1);
        cos.WriteTag(14, WireFormat.WireType.LengthDelimited);
        cos.WriteString("ignored");
        cos.WriteTag(1, WireFormat.WireType.LengthDelimited);
        cos.WriteString("/user/second");
        cos.WriteTag(3, WireFormat.WireType.Varint);
        cos.WriteUInt32(2);
        cos.Flush();
        var body = output.ToArray();
        var expected = RemoteEnvelope.Parser.ParseFrom(body);
        Assert.Equal("/user/second", expected.Target);
        // Compared field by field: protobuf also keeps the unknown fields it skipped.
        Assert.Equal(new RemoteEnvelope { Target = expected.Target, Sender = expected.Sender, SerializerId = expected.SerializerId, TypeId = expected.TypeId, Payload = expected.Payload },
            FromLayout(body, EnvelopeCodec.Read(body)));
    }

    [Fact]
    public void Every_truncation_is_rejected_exactly_when_protobuf_rejects_it_and_otherwise_reads_the_same()
    {
        var random = new Random(5);
        for (int i = 0; i < 40; i++)
        {
            var e = RandomEnvelope(random);
            e.Payload = ByteString.CopyFrom(new byte[random.Next(0, 300)]);
            var body = ProtobufFrame(e).AsSpan(FrameCodec.HeaderSize).ToArray();
            for (int cut = 0; cut <= body.Length; cut++)
            {
                var prefix = body.AsSpan(0, cut);
                RemoteEnvelope? expected;
                try
                {
                    expected = RemoteEnvelope.Parser.ParseFrom(prefix);
                }
                catch (InvalidProtocolBufferException)
                {
                    expected = null;
                }
                if (expected is null)
                {
                    var bytes = prefix.ToArray();
                    Assert.Throws<MalformedFrameException>(() => EnvelopeCodec.Read(bytes));
                }
                else
                {
                    Assert.Equal(expected, FromLayout(prefix, EnvelopeCodec.Read(prefix)));
                }
            }
        }
    }

    [Fact]
    public void Garbage_gives_a_malformed_frame_or_parts_inside_the_body_never_anything_else()
    {
        var random = new Random(3);
        for (int i = 0; i < 20_000; i++)
        {
            var body = new byte[random.Next(0, 64)];
            random.NextBytes(body);
            try
            {
                var l = EnvelopeCodec.Read(body);
                Assert.InRange(l.TargetOffset + l.TargetLength, 0, body.Length);
                Assert.InRange(l.SenderOffset + l.SenderLength, 0, body.Length);
                Assert.InRange(l.PayloadOffset + l.PayloadLength, 0, body.Length);
            }
            catch (MalformedFrameException)
            {
            }
        }
    }
}
