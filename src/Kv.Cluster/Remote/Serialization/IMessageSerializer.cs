using System.Buffers;
using Kv.Cluster.Actor;

namespace Kv.Cluster.Remote.Serialization;

/// <summary>What a serializer may need from the system: turning refs into wire paths and back.</summary>
public interface ISerializationContext
{
    /// <summary>The full path of a ref as sent on the wire ("" for none).</summary>
    string ToWire(IActorRef? actorRef);

    /// <summary>The ref for a wire path (null for "").</summary>
    IActorRef? FromWire(string path);
}

/// <summary>Writes and reads one message type. Read must throw on malformed input, never return garbage.</summary>
public interface IMessageSerializer<T>
{
    /// <summary>Writes <paramref name="message"/>.</summary>
    void Write(T message, IBufferWriter<byte> output, ISerializationContext context);

    /// <summary>Reads a message.</summary>
    T Read(ReadOnlySpan<byte> data, ISerializationContext context);
}
