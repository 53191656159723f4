using Kv.Client;

namespace Kv.Chaos;

/// <summary>
/// Classifies a failed request. A read that fails changed nothing: fail. A write refused before
/// anything was written (bad key, too large, unknown namespace, too many siblings, bad request) is
/// fail; a write that timed out, missed its quorum or found no node to answer may have been
/// stored by a replica, now or later: info (indeterminate).
/// </summary>
public static class Outcomes
{
    public static Outcome OfWriteError(Exception e) => e switch
    {
        InvalidKeyException or ValueTooLargeException or UnknownNamespaceException or InvalidRequestException or TooManySiblingsException => Outcome.Fail,
        _ => Outcome.Info, // QuorumNotMet, timeouts, unavailable, transport errors: it may have reached a replica
    };

    public static string Describe(Exception e) => $"{e.GetType().Name}: {e.Message}";
}
