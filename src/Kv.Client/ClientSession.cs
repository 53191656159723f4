using Akka.Actor;
using Kv.Actors.Security;

namespace Kv.Client;

/// <summary>
/// A client's login: the token a node gave it (<see cref="Login"/>), put around every request to a
/// router or admin actor (<see cref="Authorized"/>). Before the token expires (at four fifths of
/// its lifetime) the client logs in again in the background.
/// </summary>
public sealed class ClientSession
{
    private volatile string? _token;
    private long _refreshAtMs = long.MaxValue;
    private int _refreshing;

    /// <summary>The token (null: not logged in; "": the cluster runs without authentication).</summary>
    public string? Token => _token;

    /// <summary>Logs in again (set by <see cref="KvClient"/> when it has credentials).</summary>
    internal Func<Task>? Refresh { get; set; }

    internal void Set(string token, long expiresUnixMs)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _token = token;
        Interlocked.Exchange(ref _refreshAtMs, token.Length == 0 ? long.MaxValue : now + Math.Max(0, expiresUnixMs - now) * 4 / 5);
    }

    /// <summary><paramref name="message"/> with the token around it (as it is without one).</summary>
    public object Wrap(object message)
    {
        string? token = _token;
        if (token is not { Length: > 0 } || message is Authorized)
            return message;
        if (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() >= Interlocked.Read(ref _refreshAtMs) && Refresh is { } refresh && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await refresh().ConfigureAwait(false);
                }
                catch (KvException)
                {
                    // The old token works until it expires; the next request tries again.
                }
                finally
                {
                    Volatile.Write(ref _refreshing, 0);
                }
            });
        }
        return new Authorized(token, message);
    }
}
