namespace Kv.Client;

/// <summary>Base of every error the client reports.</summary>
public class KvException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Fewer replicas answered than the request needed (r, w, dw, pr or pw).</summary>
public sealed class QuorumNotMetException(string operation, int answered, int needed, int durableAnswered, int durableNeeded, string message)
    : KvException(message)
{
    public string Operation { get; } = operation;

    public int Answered { get; } = answered;

    public int Needed { get; } = needed;

    public int DurableAnswered { get; } = durableAnswered;

    public int DurableNeeded { get; } = durableNeeded;
}

/// <summary>No node answered in time (every node tried, or the overall timeout passed).</summary>
public sealed class KvTimeoutException(string message) : KvException(message);

/// <summary>No node of the cluster could be reached, or the cluster cannot serve yet.</summary>
public sealed class KvUnavailableException(string message) : KvException(message);

/// <summary>The write would leave more siblings than the namespace allows (siblings-max).</summary>
public sealed class TooManySiblingsException(string message) : KvException(message);

/// <summary>The value is larger than the node (kv.max-object-size) or the transport allows.</summary>
public sealed class ValueTooLargeException(string message) : KvException(message);

/// <summary>The key (or namespace name) is empty or too long.</summary>
public sealed class InvalidKeyException(string message) : KvException(message);

/// <summary>The namespace is not declared on the cluster.</summary>
public sealed class UnknownNamespaceException(string message) : KvException(message);

/// <summary>The request itself is invalid (quorum overrides out of range, ...).</summary>
public sealed class InvalidRequestException(string message) : KvException(message);
