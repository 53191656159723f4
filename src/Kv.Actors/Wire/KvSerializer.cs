using System.Globalization;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;

namespace Kv.Actors.Wire;

/// <summary>
/// Akka.NET serializer for every store message between nodes and clients: protobuf payloads
/// (Protos/kv.proto) under a stable string manifest, the message's type id (200..249), so type
/// names never travel. A payload that does not parse, breaks an invariant, or carries an unknown
/// manifest throws <see cref="SerializationException"/>: Akka.Remote drops that one message with a
/// logged error and keeps the connection.
/// </summary>
public sealed class KvSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>This serializer's id in Akka's registry (ids below 100 are Akka's own).</summary>
    public const int Id = 4200;

    private static readonly Dictionary<Type, (string Manifest, IWireCodec Codec)> ByType =
        KvSerializers.ById.ToDictionary(e => e.Value.Type, e => (e.Key.ToString(CultureInfo.InvariantCulture), e.Value));

    private static readonly Dictionary<string, IWireCodec> ByManifest =
        KvSerializers.ById.ToDictionary(e => e.Key.ToString(CultureInfo.InvariantCulture), e => e.Value);

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        ByType.TryGetValue(o.GetType(), out var e) ? e.Manifest : throw new SerializationException($"kv: no wire type for {o.GetType()}");

    public override byte[] ToBinary(object obj) =>
        ByType.TryGetValue(obj.GetType(), out var e) ? e.Codec.Write(obj) : throw new SerializationException($"kv: no wire type for {obj.GetType()}");

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!ByManifest.TryGetValue(manifest, out var codec))
            throw new SerializationException($"kv: unknown manifest '{manifest}' ({bytes.Length} bytes dropped)");
        try
        {
            return codec.Read(bytes);
        }
        catch (Exception e) when (e is not SerializationException)
        {
            throw new SerializationException($"kv: malformed {codec.Type.Name} (manifest {manifest}, {bytes.Length} bytes): {e.Message}", e);
        }
    }

    /// <summary>
    /// Akka configuration that registers this serializer for every store message, and Hyperion for
    /// what is left (instead of Akka's JSON default).
    /// </summary>
    public static Config Config { get; } = ConfigurationFactory.ParseString(BuildHocon());

    private static string BuildHocon()
    {
        var b = new StringBuilder();
        b.AppendLine("akka.actor.serializers {");
        b.AppendLine($"  kv = \"{typeof(KvSerializer).FullName}, {typeof(KvSerializer).Assembly.GetName().Name}\"");
        b.AppendLine("  hyperion = \"Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion\"");
        b.AppendLine("}");
        b.AppendLine("akka.actor.serialization-bindings {");
        b.AppendLine("  \"System.Object\" = hyperion");
        foreach (var type in ByType.Keys.OrderBy(t => t.FullName, StringComparer.Ordinal))
            b.AppendLine($"  \"{type.FullName}, {type.Assembly.GetName().Name}\" = kv");
        b.AppendLine("}");
        return b.ToString();
    }
}
