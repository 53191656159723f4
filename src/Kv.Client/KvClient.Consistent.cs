using Kv.Actors.Coordinators;

namespace Kv.Client;

/// <summary>The outcome of a compare-and-swap: whether it applied, and the value after the operation (the new value on success; the current value, null if absent, on a mismatch).</summary>
/// <param name="Succeeded">True when the expected value matched and the new value was written.</param>
/// <param name="Current">The value after the operation.</param>
public sealed record CasResult(bool Succeeded, byte[]? Current);

/// <summary>PLACEHOLDER for the `cas` branch's consistent-namespace API (dropped at merge).</summary>
public sealed partial class KvClient
{
    /// <summary>Placeholder: the `cas` branch implements it.</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="key">The key.</param>
    /// <param name="expected">The expected value (null: expect absent).</param>
    /// <param name="newValue">The value to write when the expected one matches.</param>
    /// <param name="options">Request options.</param>
    /// <returns>The outcome.</returns>
    public Task<CasResult> CompareAndSwapAsync(string ns, string key, byte[]? expected, byte[] newValue, RequestOptions? options = null) =>
        throw new NotSupportedException("CompareAndSwapAsync is a placeholder until the cas branch is merged");
}
