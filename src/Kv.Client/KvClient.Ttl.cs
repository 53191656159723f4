using System.Text;
using Kv.Actors.Coordinators;

namespace Kv.Client;

/// <summary>Actor API: whether a key holds a live value. Reply: <see cref="ExistsResult"/> or <see cref="KvFailure"/>.</summary>
public sealed record Exists(string Namespace, string Key, RequestOptions? Options = null);

/// <summary>
/// The time to live of a key's values: <see cref="Found"/> is false when it holds no live value (not
/// found, deleted or expired); otherwise one entry per sibling, null for a value without a TTL.
/// </summary>
public sealed record KvTtl(string Namespace, string Key, bool Found, IReadOnlyList<TimeSpan?> Left);

/// <summary>Values with a time to live (TTL), and exists.</summary>
public sealed partial class KvClient
{
    /// <summary>
    /// Writes a value that expires <paramref name="ttl"/> after the coordinating node receives the put
    /// (0 &lt; ttl &lt;= 3650 days, else an <see cref="InvalidRequestException"/> and nothing is stored).
    /// A later put without a TTL that replaces it (with its context) stores no expiry.
    /// </summary>
    public Task<KvWriteResult> PutAsync(string ns, string key, byte[] value, TimeSpan ttl, CausalContext? context = null, RequestOptions? options = null, string contentType = "application/octet-stream") =>
        Call<KvWriteResult>(ClientCall.For(new Put(ns, key, value, context, options, contentType) { Ttl = ttl }, Options));

    /// <summary>Writes a UTF-8 string that expires after <paramref name="ttl"/> (see the byte[] overload).</summary>
    public Task<KvWriteResult> PutAsync(string ns, string key, string value, TimeSpan ttl, CausalContext? context = null, RequestOptions? options = null) =>
        PutAsync(ns, key, Encoding.UTF8.GetBytes(value), ttl, context, options, "text/plain; charset=utf-8");

    /// <summary>
    /// Whether the key holds a live value (not deleted, not expired): read with the get's quorum
    /// rules (r, pr, notfound_ok), the replicas sending no value bytes.
    /// </summary>
    public async Task<bool> ExistsAsync(string ns, string key, RequestOptions? options = null) =>
        (await Call<ExistsResult>(ClientCall.For(new Exists(ns, key, options), Options)).ConfigureAwait(false)).Exists;

    /// <summary>
    /// The time left of the key's values: a get, each live value's expiry less this client's clock
    /// (a value's expiry is stamped by the node that coordinated its write; a client clock that is off
    /// shifts the figure, never what the nodes serve).
    /// </summary>
    public async Task<KvTtl> TtlAsync(string ns, string key, RequestOptions? options = null)
    {
        var obj = await GetAsync(ns, key, options).ConfigureAwait(false);
        if (!obj.Found)
            return new KvTtl(ns, key, false, []);
        var now = DateTimeOffset.UtcNow;
        var left = obj.Siblings.Select(v => v.ExpiresAt is { } at ? (TimeSpan?)(at > now ? at - now : TimeSpan.Zero) : null).ToList();
        return new KvTtl(ns, key, true, left);
    }
}
