using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace Kv.Cluster.Remote;

/// <summary>
/// Frames: <c>u32 little-endian length</c> of what follows, <c>u8 kind</c>, then one protobuf
/// message. A length of 0, over the maximum frame size, or an unknown kind is malformed input.
/// </summary>
internal static class FrameCodec
{
    public const int HeaderSize = 5;

    /// <summary>Writes a whole frame.</summary>
    public static void Write(IBufferWriter<byte> output, FrameKind kind, IMessage message)
    {
        int size = message.CalculateSize();
        var header = output.GetSpan(HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)(size + 1));
        header[4] = (byte)kind;
        output.Advance(HeaderSize);
        if (size > 0)
        {
            var body = output.GetSpan(size);
            message.WriteTo(body[..size]);
            output.Advance(size);
        }
    }

    /// <summary>
    /// Takes one frame from <paramref name="buffer"/> if it is complete. Throws
    /// <see cref="MalformedFrameException"/> for a bad length or kind.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maximumFrameSize, out FrameKind kind, out ReadOnlySequence<byte> body)
    {
        kind = 0;
        body = default;
        if (buffer.Length < HeaderSize)
            return false;
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length == 0 || length > (uint)maximumFrameSize + 1)
            throw new MalformedFrameException($"frame length {length} is outside 1..{maximumFrameSize + 1}");
        byte k = header[4];
        if (k is < (byte)FrameKind.Hello or > (byte)FrameKind.HeartbeatAck)
            throw new MalformedFrameException($"unknown frame kind {k}");
        if (buffer.Length < 4 + length)
            return false;
        kind = (FrameKind)k;
        body = buffer.Slice(HeaderSize, length - 1);
        buffer = buffer.Slice(4 + length);
        return true;
    }

    /// <summary>Parses a frame body; protobuf errors become <see cref="MalformedFrameException"/>.</summary>
    public static T Parse<T>(MessageParser<T> parser, in ReadOnlySequence<byte> body) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new MalformedFrameException($"malformed {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>Reads frames until one arrives (handshake steps); null at end of stream.</summary>
    public static async ValueTask<(FrameKind Kind, byte[] Body)?> ReadOneAsync(PipeReader reader, int maximumFrameSize, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            try
            {
                if (TryRead(ref buffer, maximumFrameSize, out var kind, out var body))
                    return (kind, body.ToArray());
                if (result.IsCompleted)
                {
                    if (buffer.Length > 0)
                        throw new MalformedFrameException($"connection closed inside a frame ({buffer.Length} bytes pending)");
                    return null;
                }
            }
            finally
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }
}

/// <summary>Bytes on a connection that are not a valid frame.</summary>
public sealed class MalformedFrameException(string message, Exception? inner = null) : Exception(message, inner);
