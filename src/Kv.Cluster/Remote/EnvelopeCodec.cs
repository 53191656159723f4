using System.Buffers.Binary;

namespace Kv.Cluster.Remote;

/// <summary>Where the parts of an envelope lie in a frame body (offsets and lengths into it).</summary>
internal readonly record struct EnvelopeLayout(
    int TargetOffset, int TargetLength,
    int SenderOffset, int SenderLength,
    uint SerializerId, uint TypeId,
    int PayloadOffset, int PayloadLength);

/// <summary>
/// The envelope frame (kind 5), written and read by hand: the bytes are exactly those of the
/// protobuf message <c>RemoteEnvelope</c> in remote.proto, so any protobuf encoder can talk to us,
/// but sending needs no envelope object and receiving neither decodes the two paths into strings
/// (they are looked up as bytes) nor copies the payload out of the connection's buffer. Every
/// message crossing the wire goes through here.
/// </summary>
internal static class EnvelopeCodec
{
    // Tags: field number << 3 | wire type (2 = length-delimited, 0 = varint).
    private const byte TargetTag = (1 << 3) | 2;
    private const byte SenderTag = (2 << 3) | 2;
    private const byte SerializerTag = 3 << 3;
    private const byte TypeTag = 4 << 3;
    private const byte PayloadTag = (5 << 3) | 2;

    /// <summary>A whole frame (length, kind, envelope) in a new array of exactly its length; fields at their default are left out, as protobuf does.</summary>
    public static byte[] ToFrame(ReadOnlySpan<byte> target, ReadOnlySpan<byte> sender, uint serializerId, uint typeId, ReadOnlySpan<byte> payload, out int length)
    {
        int body = BytesField(target.Length) + BytesField(sender.Length) + VarintField(serializerId) + VarintField(typeId) + BytesField(payload.Length);
        length = FrameCodec.HeaderSize + body;
        var buffer = GC.AllocateUninitializedArray<byte>(length);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)(body + 1));
        buffer[4] = (byte)FrameKind.Envelope;
        int pos = FrameCodec.HeaderSize;
        WriteBytes(buffer, ref pos, TargetTag, target);
        WriteBytes(buffer, ref pos, SenderTag, sender);
        WriteVarintField(buffer, ref pos, SerializerTag, serializerId);
        WriteVarintField(buffer, ref pos, TypeTag, typeId);
        WriteBytes(buffer, ref pos, PayloadTag, payload);
        return buffer;
    }

    /// <summary>Finds the envelope's parts; throws <see cref="MalformedFrameException"/> on anything a protobuf parser would reject.</summary>
    public static EnvelopeLayout Read(ReadOnlySpan<byte> body)
    {
        int targetOffset = 0, targetLength = 0, senderOffset = 0, senderLength = 0, payloadOffset = 0, payloadLength = 0;
        uint serializerId = 0, typeId = 0;
        int pos = 0;
        while (pos < body.Length)
        {
            ulong tag = ReadVarint(body, ref pos);
            int field = (int)Math.Min(tag >> 3, int.MaxValue);
            int wireType = (int)(tag & 7);
            if (field == 0)
                throw new MalformedFrameException("envelope: field number 0");
            switch (field, wireType)
            {
                case (1, 2):
                    (targetOffset, targetLength) = ReadLengthDelimited(body, ref pos);
                    break;
                case (2, 2):
                    (senderOffset, senderLength) = ReadLengthDelimited(body, ref pos);
                    break;
                case (3, 0):
                    serializerId = (uint)ReadVarint(body, ref pos);
                    break;
                case (4, 0):
                    typeId = (uint)ReadVarint(body, ref pos);
                    break;
                case (5, 2):
                    (payloadOffset, payloadLength) = ReadLengthDelimited(body, ref pos);
                    break;
                case (>= 1 and <= 5, _):
                    throw new MalformedFrameException($"envelope: field {field} has wire type {wireType}");
                default:
                    Skip(body, ref pos, wireType); // a field from a newer version
                    break;
            }
        }
        return new EnvelopeLayout(targetOffset, targetLength, senderOffset, senderLength, serializerId, typeId, payloadOffset, payloadLength);
    }

    private static int VarintSize(ulong value) => value < 0x80 ? 1 : (64 - System.Numerics.BitOperations.LeadingZeroCount(value) + 6) / 7;

    private static int BytesField(int length) => length == 0 ? 0 : 1 + VarintSize((uint)length) + length;

    private static int VarintField(uint value) => value == 0 ? 0 : 1 + VarintSize(value);

    private static void WriteVarint(byte[] buffer, ref int pos, ulong value)
    {
        while (value >= 0x80)
        {
            buffer[pos++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[pos++] = (byte)value;
    }

    private static void WriteBytes(byte[] buffer, ref int pos, byte tag, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
            return;
        buffer[pos++] = tag;
        WriteVarint(buffer, ref pos, (uint)value.Length);
        value.CopyTo(buffer.AsSpan(pos));
        pos += value.Length;
    }

    private static void WriteVarintField(byte[] buffer, ref int pos, byte tag, uint value)
    {
        if (value == 0)
            return;
        buffer[pos++] = tag;
        WriteVarint(buffer, ref pos, value);
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> body, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (pos >= body.Length)
                throw new MalformedFrameException("envelope: truncated varint");
            byte b = body[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return result;
        }
        throw new MalformedFrameException("envelope: varint longer than 10 bytes");
    }

    private static (int Offset, int Length) ReadLengthDelimited(ReadOnlySpan<byte> body, ref int pos)
    {
        ulong length = ReadVarint(body, ref pos);
        if (length > (ulong)(body.Length - pos))
            throw new MalformedFrameException($"envelope: a field of {length} bytes runs past the end of the frame");
        int offset = pos;
        pos += (int)length;
        return (offset, (int)length);
    }

    private static void Skip(ReadOnlySpan<byte> body, ref int pos, int wireType)
    {
        switch (wireType)
        {
            case 0:
                ReadVarint(body, ref pos);
                break;
            case 1:
            case 5:
                int size = wireType == 1 ? 8 : 4;
                if (body.Length - pos < size)
                    throw new MalformedFrameException("envelope: truncated fixed-size field");
                pos += size;
                break;
            case 2:
                ReadLengthDelimited(body, ref pos);
                break;
            default:
                throw new MalformedFrameException($"envelope: unsupported wire type {wireType}");
        }
    }
}
