using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Kv.Cluster.Actor;
using Kv.Cluster.Dispatch;
using Kv.Cluster.Remote.Protos;

namespace Kv.Cluster.Remote.Serialization;

/// <summary>The runtime's built-in wire types (serializer 2). Ids are part of the wire format: never reuse one.</summary>
internal static class RuntimeSerializers
{
    public const uint String = 1;
    public const uint Bytes = 2;
    public const uint Int64 = 3;
    public const uint Int32 = 4;
    public const uint Boolean = 5;
    public const uint Identify = 10;
    public const uint ActorIdentity = 11;
    public const uint PoisonPill = 12;
    public const uint Failure = 13;
    public const uint Success = 14;
    public const uint Watch = 20;
    public const uint Unwatch = 21;
    public const uint DeathWatch = 22;

    public static void RegisterAll(SerializationRegistry r)
    {
        // Cluster membership (protobuf, runtime ids 30..49).
        r.AddRuntimeProtobuf<Cluster.Protos.GossipEnvelopeData>(30);
        r.AddRuntimeProtobuf<Cluster.Protos.GossipStatusData>(31);
        r.AddRuntimeProtobuf<Cluster.Protos.InitJoinData>(32);
        r.AddRuntimeProtobuf<Cluster.Protos.InitJoinAckData>(33);
        r.AddRuntimeProtobuf<Cluster.Protos.JoinData>(34);
        r.AddRuntimeProtobuf<Cluster.Protos.WelcomeData>(35);
        r.AddRuntimeProtobuf<Cluster.Protos.JoinRefusedData>(36);
        r.AddRuntimeProtobuf<Cluster.Protos.LeaveData>(37);
        r.AddRuntimeProtobuf<Cluster.Protos.DownData>(38);
        r.AddRuntimeProtobuf<Cluster.Protos.HeartbeatData>(40);
        r.AddRuntimeProtobuf<Cluster.Protos.HeartbeatResponseData>(41);

        r.AddRuntime<string>(String, static (s, o, _) => Encoding.UTF8.GetBytes(s, o), static (d, _) => DecodeUtf8(d.Span));
        r.AddRuntime<byte[]>(Bytes, static (b, o, _) => o.Write(b), static (d, _) => d.ToArray());
        r.AddRuntime<long>(Int64, static (v, o, _) => WriteInt64(o, v), static (d, _) => BinaryPrimitives.ReadInt64LittleEndian(ReadFixed(d.Span, 8)));
        r.AddRuntime<int>(Int32, static (v, o, _) => WriteInt32(o, v), static (d, _) => BinaryPrimitives.ReadInt32LittleEndian(ReadFixed(d.Span, 4)));
        r.AddRuntime<bool>(Boolean, static (v, o, _) => o.Write([v ? (byte)1 : (byte)0]), static (d, _) => ReadFixed(d.Span, 1)[0] switch
        {
            0 => false,
            1 => true,
            _ => throw new FormatException("a boolean is 0 or 1"),
        });
        r.AddRuntime<PoisonPill>(PoisonPill, static (_, _, _) => { }, static (d, _) => d.Length == 0 ? Actor.PoisonPill.Instance : throw new FormatException("PoisonPill has no body"));
        r.AddRuntime<Identify>(Identify,
            (m, o, c) => new IdentifyData { MessageId = ToPayload(r, m.MessageId, c) }.WriteTo(o),
            (d, c) => new Identify(FromPayload(r, IdentifyData.Parser.ParseFrom(d.Span).MessageId, c)));
        r.AddRuntime<ActorIdentity>(ActorIdentity,
            (m, o, c) => new ActorIdentityData { MessageId = ToPayload(r, m.MessageId, c), Subject = c.ToWire(m.Subject) }.WriteTo(o),
            (d, c) =>
            {
                var data = ActorIdentityData.Parser.ParseFrom(d.Span);
                return new ActorIdentity(FromPayload(r, data.MessageId, c), c.FromWire(data.Subject));
            });
        r.AddRuntime<Status.Failure>(Failure,
            static (m, o, _) => new FailureData { ExceptionType = m.Cause.GetType().FullName ?? "", Message = m.Cause.Message }.WriteTo(o),
            static (d, _) =>
            {
                var data = FailureData.Parser.ParseFrom(d.Span);
                return new Status.Failure(new RemoteFailureException(data.ExceptionType, data.Message));
            });
        r.AddRuntime<Status.Success>(Success,
            (m, o, c) => ToPayload(r, m.Status, c).WriteTo(o),
            (d, c) => new Status.Success(FromPayload(r, Protos.Payload.Parser.ParseFrom(d.Span), c)));
        r.AddRuntime<Watch>(Watch,
            static (m, o, c) => new WatchData { Watchee = c.ToWire(m.Watchee), Watcher = c.ToWire(m.Watcher) }.WriteTo(o),
            static (d, c) =>
            {
                var data = WatchData.Parser.ParseFrom(d.Span);
                return new Watch(RequireRef(c, data.Watchee), RequireRef(c, data.Watcher));
            });
        r.AddRuntime<Unwatch>(Unwatch,
            static (m, o, c) => new WatchData { Watchee = c.ToWire(m.Watchee), Watcher = c.ToWire(m.Watcher) }.WriteTo(o),
            static (d, c) =>
            {
                var data = WatchData.Parser.ParseFrom(d.Span);
                return new Unwatch(RequireRef(c, data.Watchee), RequireRef(c, data.Watcher));
            });
        r.AddRuntime<DeathWatchNotification>(DeathWatch,
            static (m, o, c) => new DeathWatchData { Actor = c.ToWire(m.Actor), ExistenceConfirmed = m.ExistenceConfirmed, AddressTerminated = m.AddressTerminated }.WriteTo(o),
            static (d, c) =>
            {
                var data = DeathWatchData.Parser.ParseFrom(d.Span);
                return new DeathWatchNotification(RequireRef(c, data.Actor), data.ExistenceConfirmed, data.AddressTerminated);
            });
    }

    /// <summary>UTF-8 that throws on invalid bytes (text from the wire is never repaired silently).</summary>
    internal static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string DecodeUtf8(ReadOnlySpan<byte> data) => StrictUtf8.GetString(data);

    private static ReadOnlySpan<byte> ReadFixed(ReadOnlySpan<byte> data, int length) =>
        data.Length == length ? data : throw new FormatException($"expected {length} bytes, got {data.Length}");

    private static void WriteInt64(IBufferWriter<byte> o, long v)
    {
        BinaryPrimitives.WriteInt64LittleEndian(o.GetSpan(8), v);
        o.Advance(8);
    }

    private static void WriteInt32(IBufferWriter<byte> o, int v)
    {
        BinaryPrimitives.WriteInt32LittleEndian(o.GetSpan(4), v);
        o.Advance(4);
    }

    private static IActorRef RequireRef(ISerializationContext c, string path) =>
        c.FromWire(path) ?? throw new FormatException("a system message must name an actor");

    private static Protos.Payload ToPayload(SerializationRegistry r, object? value, ISerializationContext c)
    {
        if (value is null)
            return new Protos.Payload();
        if (!r.TryGet(value.GetType(), out var binding))
            throw new MessageRejectedException($"{value.GetType().Name} has no registered serializer");
        var buffer = new ArrayBufferWriter<byte>();
        binding.Write(value, buffer, c);
        return new Protos.Payload { SerializerId = binding.SerializerId, TypeId = binding.TypeId, Data = ByteString.CopyFrom(buffer.WrittenSpan) };
    }

    private static object? FromPayload(SerializationRegistry r, Protos.Payload? p, ISerializationContext c)
    {
        if (p is null || p.SerializerId == 0)
            return null;
        if (!r.TryGet(p.SerializerId, p.TypeId, out var binding))
            throw new UnknownTypeException(p.SerializerId, p.TypeId);
        return binding.Read(p.Data.Memory, c);
    }
}

/// <summary>The remote actor replied with a failure; the original exception's type and message.</summary>
public sealed class RemoteFailureException(string exceptionType, string message) : Exception($"{exceptionType}: {message}")
{
    public string ExceptionType { get; } = exceptionType;
}

/// <summary>A frame named a (serializer, type) pair this system does not know.</summary>
public sealed class UnknownTypeException(uint serializerId, uint typeId)
    : FormatException($"unknown message type: serializer {serializerId}, type id {typeId}")
{
    public uint SerializerId { get; } = serializerId;
    public uint TypeId { get; } = typeId;
}
