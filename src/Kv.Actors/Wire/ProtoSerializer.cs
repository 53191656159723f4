using Google.Protobuf;

namespace Kv.Actors.Wire;

/// <summary>One wire type of the store: its C# type and how it goes to and from its protobuf schema message.</summary>
internal interface IWireCodec
{
    Type Type { get; }

    byte[] Write(object message);

    object Read(byte[] data);
}

/// <summary>
/// Sends a C# message as a protobuf schema message: <c>toProto</c> on the way out, <c>fromProto</c>
/// (which throws on anything inconsistent) on the way in.
/// </summary>
internal sealed class ProtoSerializer<T, TProto>(Func<T, TProto> toProto, Func<TProto, T> fromProto) : IWireCodec
    where T : notnull where TProto : IMessage<TProto>, new()
{
    private static readonly MessageParser<TProto> Parser = new(static () => new TProto());

    public Type Type => typeof(T);

    public byte[] Write(object message) => toProto((T)message).ToByteArray();

    public object Read(byte[] data) => fromProto(Parser.ParseFrom(data));
}
