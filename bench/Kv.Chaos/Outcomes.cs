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

    /// <summary>
    /// A failed update in a consistent namespace: unavailable (no majority of the primaries
    /// reachable; nothing was proposed) and refusals are fail; a timeout, or anything the client
    /// could not classify, is info (an accept may have been sent).
    /// </summary>
    public static Outcome OfConsistentError(Exception e) => e switch
    {
        KvUnavailableException => Outcome.Fail,
        KvTimeoutException or QuorumNotMetException => Outcome.Info,
        KvException => Outcome.Fail, // refused (bad key, unknown namespace, not a number, ...)
        _ => Outcome.Info, // transport errors, ask timeouts
    };

    public static string Describe(Exception e) => $"{e.GetType().Name}: {e.Message}";
}
