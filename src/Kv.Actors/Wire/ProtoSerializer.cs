using System.Buffers;
using Google.Protobuf;
using Kv.Cluster.Remote.Serialization;

namespace Kv.Actors.Wire;

/// <summary>
/// Sends a C# message as a protobuf schema message: <c>toProto</c> on the way out, <c>fromProto</c>
/// (which throws on anything inconsistent) on the way in.
/// </summary>
internal sealed class ProtoSerializer<T, TProto>(Func<T, TProto> toProto, Func<TProto, T> fromProto) : IMessageSerializer<T>
    where TProto : IMessage<TProto>, new()
{
    private static readonly MessageParser<TProto> Parser = new(static () => new TProto());

    public void Write(T message, IBufferWriter<byte> output, ISerializationContext context) => toProto(message).WriteTo(output);

    public T Read(ReadOnlySpan<byte> data, ISerializationContext context) => fromProto(Parser.ParseFrom(data));
}
