using System.Collections.Immutable;

namespace Kv.Client;

/// <summary>The nodes the client currently considers down (written by <see cref="KvClientActor"/>, read by its requests).</summary>
public sealed class NodeHealth
{
    private volatile ImmutableHashSet<string> _down = ImmutableHashSet.Create<string>(StringComparer.Ordinal);

    public bool IsDown(string node) => _down.Contains(node);

    public IReadOnlySet<string> Down => _down;

    internal void Set(ImmutableHashSet<string> down) => _down = down;
}
