namespace Kv.Cluster.Remote;

/// <summary>The byte after a frame's length: what protobuf message follows.</summary>
public enum FrameKind : byte
{
    Hello = 1,
    HelloAck = 2,
    Proof = 3,
    Refused = 4,
    Envelope = 5,
    Heartbeat = 6,
    HeartbeatAck = 7,
}
