namespace Kv.Storage.Iterators;

/// <summary>A forward cursor over internal keys (user key + tag) in internal-key order.</summary>
internal interface IInternalIterator : IDisposable
{
    bool Valid { get; }

    /// <summary>The current internal key; valid until the cursor moves.</summary>
    ReadOnlySpan<byte> Key { get; }

    ReadOnlySpan<byte> Value { get; }

    void SeekToFirst();

    /// <summary>Positions at the first entry with internal key >= <paramref name="target"/>.</summary>
    void Seek(ReadOnlySpan<byte> target);

    void Next();
}
