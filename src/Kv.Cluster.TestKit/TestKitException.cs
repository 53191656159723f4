namespace Kv.Cluster.TestKit;

/// <summary>An expectation of the test kit failed.</summary>
public sealed class TestKitException(string message) : Exception(message);
