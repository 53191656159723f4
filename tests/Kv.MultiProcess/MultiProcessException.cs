namespace Kv.MultiProcess;

/// <summary>A multi-process spec failed: a role failed, a barrier timed out, the controller went away.</summary>
public sealed class MultiProcessException(string message) : Exception(message);
