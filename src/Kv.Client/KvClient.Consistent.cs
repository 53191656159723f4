using Kv.Actors.Consistent;
using Kv.Actors.Coordinators;

namespace Kv.Client;

/// <summary>The outcome of a compare-and-swap: whether it swapped, and the value after it (the new value on success; on a mismatch the current value, null if absent).</summary>
public sealed record CasResult(bool Succeeded, byte[]? Current);

/// <summary>
/// Consistent namespaces (kv.namespaces.NAME.consistent = on; docs/consistency.md): compare-and-swap.
/// Gets, puts, deletes and increments there use the usual calls and are linearizable. An operation
/// without a majority of the key's primaries reachable fails with a <see cref="KvUnavailableException"/>
/// (nothing applied); a <see cref="KvTimeoutException"/> means it may or may not have been applied,
/// and a CAS is never sent again by the client.
/// </summary>
public sealed partial class KvClient
{
    /// <summary>
    /// Sets <paramref name="key"/> to <paramref name="newValue"/> if it holds <paramref name="expected"/>
    /// (null: if it is absent), atomically. Only in a consistent namespace (elsewhere an
    /// <see cref="InvalidRequestException"/>).
    /// </summary>
    public Task<CasResult> CompareAndSwapAsync(string ns, string key, byte[]? expected, byte[] newValue, RequestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(newValue);
        return Call<CasResult>(ClientCall.ForCas(ns, key, expected, newValue, options, Options));
    }
}
