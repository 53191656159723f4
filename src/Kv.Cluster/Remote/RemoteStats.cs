namespace Kv.Cluster.Remote;

/// <summary>Counters of one transport (read with Interlocked; exported by the node).</summary>
public sealed class RemoteStats
{
    internal long _messagesSent;
    internal long _messagesReceived;
    internal long _bytesSent;
    internal long _bytesReceived;
    internal long _badInput;
    internal long _refusedHandshakes;
    internal long _rejectedMessages;
    internal long _droppedByRules;
    internal long _queueOverflows;
    internal long _unknownTargets;

    public long MessagesSent => Interlocked.Read(ref _messagesSent);
    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>Connections dropped for malformed frames, unknown types, truncated handshakes or random bytes.</summary>
    public long BadInput => Interlocked.Read(ref _badInput);

    /// <summary>Handshakes refused (wrong secret, wrong system, quarantined uid).</summary>
    public long RefusedHandshakes => Interlocked.Read(ref _refusedHandshakes);

    /// <summary>Messages refused at the sender (too large, no serializer).</summary>
    public long RejectedMessages => Interlocked.Read(ref _rejectedMessages);

    /// <summary>Messages dropped by fault-injection rules.</summary>
    public long DroppedByRules => Interlocked.Read(ref _droppedByRules);

    /// <summary>Messages dropped because a send queue was full.</summary>
    public long QueueOverflows => Interlocked.Read(ref _queueOverflows);

    /// <summary>Messages for actors that do not exist here (delivered to dead letters).</summary>
    public long UnknownTargets => Interlocked.Read(ref _unknownTargets);
}
