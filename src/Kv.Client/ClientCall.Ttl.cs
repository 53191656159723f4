using Kv.Actors.Coordinators;
using Kv.Actors.Objects;

namespace Kv.Client;

/// <summary>TTL and exists requests.</summary>
internal sealed partial class ClientCall
{
    /// <summary>A call that cannot be sent: <paramref name="error"/> says why.</summary>
    private ClientCall(KvException error)
    {
        Error = error;
        _message = "";
    }

    /// <summary>The client's check of a TTL (the node checks it again): null when there is none or it is valid.</summary>
    internal static KvException? TtlError(TimeSpan? ttl) =>
        ttl is { } t && Expiry.Check(t) is { } why ? new InvalidRequestException(why) : null;

    public static ClientCall For(Exists e, KvClientOptions options) =>
        new(e.Namespace, e.Key, 0, options, (ns, key) => new KvExists(ns, key, e.Options ?? RequestOptions.None));
}
