using System.Buffers.Binary;
using Google.Protobuf;
using Kv.Actors.Protos;
using Kv.Actors.Wire;
using Kv.Storage.Util;

namespace Kv.Actors.Ring;

/// <summary>
/// The ring as persisted on each node: "KVRING1\n", u32 length, the RingData protobuf, u32 CRC-32C
/// of it (little-endian). Written to a temporary file, fsynced, then renamed over the old one.
/// A damaged file is reported (InvalidDataException), never half-read.
/// </summary>
public static class RingFile
{
    private static readonly byte[] Magic = "KVRING1\n"u8.ToArray();

    public static void Write(string path, Ring ring)
    {
        var body = KvSerializers.ToWire(ring).ToByteArray();
        var bytes = new byte[Magic.Length + 4 + body.Length + 4];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(Magic.Length), (uint)body.Length);
        body.CopyTo(bytes, Magic.Length + 4);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(Magic.Length + 4 + body.Length), Crc32C.Compute(body));
        DurableFile.Replace(path, bytes);
    }

    /// <summary>The stored ring, or null when there is none.</summary>
    public static Ring? Read(string path)
    {
        if (!File.Exists(path))
            return null;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length + 8 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a ring file");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Magic.Length));
        if (length != bytes.Length - Magic.Length - 8)
            throw new InvalidDataException($"{path}: truncated ring file ({bytes.Length} bytes, body of {length})");
        var body = bytes.AsSpan(Magic.Length + 4, (int)length);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Magic.Length + 4 + (int)length)) != Crc32C.Compute(body))
            throw new InvalidDataException($"{path}: ring file checksum mismatch");
        try
        {
            return KvSerializers.FromWire(RingData.Parser.ParseFrom(body));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or FormatException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }
}
