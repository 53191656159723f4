using System.Text;
using Kv.Actors.Coordinators;
using Kv.Actors.Objects;

namespace Kv.Client;

/// <summary>Turns the store's reply messages into client results and typed errors.</summary>
internal static class Replies
{
    public static KvValue ToValue(Sibling s) => new(s.Value, s.ContentType, DateTimeOffset.FromUnixTimeMilliseconds(s.LastModifiedMs))
    {
        ExpiresAt = s.ExpiresAtMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(s.ExpiresAtMs),
    };

    /// <summary>The result for <paramref name="reply"/>, or null if it is not a store reply (an admin reply passes as it is).</summary>
    public static object Map(string ns, string key, object reply) => reply switch
    {
        GetSucceeded g => g.Siblings.Count == 0
            ? new KvObject(ns, key, false, [], new CausalContext(g.Context))
            : new KvObject(ns, key, true, g.Siblings.Select(ToValue).ToList(), new CausalContext(g.Context)),
        NotFound nf => new KvObject(ns, key, false, [], new CausalContext(nf.Context)),
        PutSucceeded p => new KvWriteResult(new CausalContext(p.Context), p.Object?.Values.Where(v => !v.Deleted).Select(ToValue).ToList() ?? [], p.Acks, p.DurableAcks),
        QuorumNotMet q => new KvFailure(new QuorumNotMetException(q.Operation, q.Answered, q.Needed, q.DurableAnswered, q.DurableNeeded, q.ToString())),
        Kv.Actors.Consistent.CasReply c => new CasResult(c.Succeeded, c.Current),
        PutRefused r => new KvFailure(new TooManySiblingsException(r.Reason)),
        RequestFailed f => new KvFailure(f.Code switch
        {
            FailureCode.InvalidKey => new InvalidKeyException(f.Reason),
            FailureCode.ValueTooLarge => new ValueTooLargeException(f.Reason),
            FailureCode.UnknownNamespace => new UnknownNamespaceException(f.Reason),
            FailureCode.Unavailable => new KvUnavailableException(f.Reason),
            FailureCode.Indeterminate => new KvTimeoutException(f.Reason),
            FailureCode.NotAuthenticated => new KvAuthenticationException(f.Reason),
            FailureCode.AccessDenied => new KvAccessDeniedException(f.Reason),
            _ => new InvalidRequestException(f.Reason),
        }),
        _ => reply,
    };

    /// <summary>Checks a request before it is sent; null if it is fine.</summary>
    public static KvException? Check(string ns, string key, int valueBytes, int maxValueBytes)
    {
        int nsBytes = Encoding.UTF8.GetByteCount(ns);
        int keyBytes = Encoding.UTF8.GetByteCount(key);
        if (nsBytes is 0 or > 255)
            return new InvalidKeyException($"a namespace must be 1..255 bytes (got {nsBytes})");
        if (keyBytes is 0 or > 64 * 1024)
            return new InvalidKeyException($"a key must be 1..65536 bytes (got {keyBytes})");
        if (valueBytes > maxValueBytes)
            return new ValueTooLargeException($"a value of {valueBytes} bytes exceeds what the client sends ({maxValueBytes} bytes)");
        return null;
    }
}
