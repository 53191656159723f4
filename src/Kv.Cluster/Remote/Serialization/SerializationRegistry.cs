using System.Buffers;
using Google.Protobuf;

namespace Kv.Cluster.Remote.Serialization;

/// <summary>
/// Every message type that crosses the wire has one stable (serializer id, type id) here; type names
/// never travel, so renaming a class does not break a cluster, and nothing can make a node load an
/// arbitrary type. Ids 1..99 are the runtime's; applications use 100 and up.
/// </summary>
public sealed class SerializationRegistry
{
    /// <summary>Protobuf messages.</summary>
    public const int ProtobufSerializerId = 1;

    /// <summary>The runtime's own messages and primitives.</summary>
    public const int RuntimeSerializerId = 2;

    /// <summary>Custom serializers.</summary>
    public const int CustomSerializerId = 3;

    /// <summary>Smallest type id an application may use.</summary>
    public const int FirstUserTypeId = 100;

    // Copy-on-write: registration is rare (start-up), lookups are per message and take no lock.
    private volatile Dictionary<Type, Binding> _byType = [];
    private volatile Dictionary<(uint, uint), Binding> _byId = [];
    private readonly Lock _lock = new();

    internal sealed record Binding(
        Type Type,
        uint SerializerId,
        uint TypeId,
        Action<object, IBufferWriter<byte>, ISerializationContext> Write,
        Func<ReadOnlyMemory<byte>, ISerializationContext, object> Read);

    /// <summary>A registry holding the runtime's built-in types.</summary>
    public SerializationRegistry() => RuntimeSerializers.RegisterAll(this);

    /// <summary>Registers a protobuf message type under <paramref name="typeId"/>.</summary>
    public void RegisterProtobuf<T>(int typeId) where T : IMessage<T>, new()
    {
        CheckUserId(typeId);
        var parser = new MessageParser<T>(static () => new T());
        Add(new Binding(typeof(T), ProtobufSerializerId, (uint)typeId,
            static (m, output, _) => ((IMessage)m).WriteTo(output),
            (data, _) => parser.ParseFrom(data.Span)));
    }

    /// <summary>Registers a custom serializer for <typeparamref name="T"/> under <paramref name="typeId"/>.</summary>
    public void Register<T>(int typeId, IMessageSerializer<T> serializer) where T : notnull
    {
        CheckUserId(typeId);
        Add(new Binding(typeof(T), CustomSerializerId, (uint)typeId,
            (m, output, ctx) => serializer.Write((T)m, output, ctx),
            (data, ctx) => serializer.Read(data.Span, ctx)));
    }

    internal void AddRuntimeProtobuf<T>(uint typeId) where T : IMessage<T>, new()
    {
        var parser = new MessageParser<T>(static () => new T());
        Add(new Binding(typeof(T), ProtobufSerializerId, typeId,
            static (m, output, _) => ((IMessage)m).WriteTo(output),
            (data, _) => parser.ParseFrom(data.Span)));
    }

    internal void AddRuntime<T>(uint typeId, Action<T, IBufferWriter<byte>, ISerializationContext> write, Func<ReadOnlyMemory<byte>, ISerializationContext, T> read)
        where T : notnull =>
        Add(new Binding(typeof(T), RuntimeSerializerId, typeId, (m, o, c) => write((T)m, o, c), (d, c) => read(d, c)));

    private static void CheckUserId(int typeId)
    {
        if (typeId < FirstUserTypeId)
            throw new ArgumentOutOfRangeException(nameof(typeId), typeId, $"application type ids start at {FirstUserTypeId}; lower ones are the runtime's");
    }

    private void Add(Binding binding)
    {
        lock (_lock)
        {
            if (_byType.TryGetValue(binding.Type, out var existing))
                throw new ArgumentException($"{binding.Type.Name} is already registered with type id {existing.TypeId}");
            if (_byId.TryGetValue((binding.SerializerId, binding.TypeId), out existing))
                throw new ArgumentException($"type id {binding.TypeId} is already used by {existing.Type.Name}");
            _byType = new Dictionary<Type, Binding>(_byType) { [binding.Type] = binding };
            _byId = new Dictionary<(uint, uint), Binding>(_byId) { [(binding.SerializerId, binding.TypeId)] = binding };
        }
    }

    internal bool TryGet(Type type, out Binding binding) => _byType.TryGetValue(type, out binding!);

    internal bool TryGet(uint serializerId, uint typeId, out Binding binding) => _byId.TryGetValue((serializerId, typeId), out binding!);

    /// <summary>True when <paramref name="type"/> can be sent to another system.</summary>
    public bool IsRegistered(Type type) => TryGet(type, out _);
}
