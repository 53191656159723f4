namespace Kv.Node;

/// <summary>Bad configuration: a parse error (file:line:column), an unknown setting or a value out of range. The node does not start.</summary>
public sealed class ConfigException(string message) : Exception(message);
