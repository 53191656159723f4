namespace Kv.Storage;

/// <summary>A consistent point-in-time view: reads through it see the engine as it was when it was taken.</summary>
public sealed class Snapshot : IDisposable
{
    private readonly LsmEngine _owner;

    internal Snapshot(LsmEngine owner, ulong sequence)
    {
        _owner = owner;
        Sequence = sequence;
    }

    public ulong Sequence { get; }

    internal LinkedListNode<Snapshot>? Node { get; set; }

    internal LsmEngine Owner => _owner;

    public void Dispose() => _owner.ReleaseSnapshot(this);
}
