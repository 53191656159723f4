using Kv.Actors.Consistent;
using Kv.Actors.Coordinators;

namespace Kv.Client;

internal sealed partial class ClientCall
{
    /// <summary>A compare-and-swap (KvClient.Consistent.cs); both values count toward the value limit.</summary>
    internal static ClientCall ForCas(string ns, string key, byte[]? expected, byte[] newValue, RequestOptions? options, KvClientOptions clientOptions) =>
        new(ns, key, Math.Max(newValue.Length, expected?.Length ?? 0), clientOptions, (nsBytes, keyBytes) => new KvCas(nsBytes, keyBytes, expected, newValue, options ?? RequestOptions.None));
}
