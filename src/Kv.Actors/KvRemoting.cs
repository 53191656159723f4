using System.Text;

namespace Kv.Actors;

/// <summary>The remoting settings nodes and clients share (measured on 2 cores; see the README's performance section).</summary>
public static class KvRemoting
{
    /// <summary>
    /// Lines for inside <c>akka.remote.dot-netty.tcp { }</c>: no write batching (a request waits
    /// for no flush timer), and one DotNetty event loop each way, so fewer threads hand each
    /// message over. (Remoting's actors run on the default dispatcher: <c>akka.remote.use-dispatcher</c>.)
    /// </summary>
    public static void AppendTransportTuning(StringBuilder hocon)
    {
        ArgumentNullException.ThrowIfNull(hocon);
        hocon.AppendLine("    batching.enabled = false");
        hocon.AppendLine("    server-socket-worker-pool { pool-size-min = 1, pool-size-factor = 1.0, pool-size-max = 1 }");
        hocon.AppendLine("    client-socket-worker-pool { pool-size-min = 1, pool-size-factor = 1.0, pool-size-max = 1 }");
    }

    /// <summary>
    /// A line for inside <c>akka { }</c> when the throttler adapter (trttl) is on. Through the
    /// adapter a peer's death (kill -9) does not end the association: messages kept going into it,
    /// and the peer's next incarnation on the same address could not be reached, until the transport
    /// failure detector (120 s pause by default) gave up. A short pause ends it within seconds, as a
    /// closed socket does without the adapter.
    /// </summary>
    /// <param name="hocon">The configuration being written.</param>
    /// <param name="pause">How long a silent association lives: a client's can be short (6 s); a
    /// node's must outlast the split-brain resolver's decision on a partition (a partition's links
    /// ending early changes what each side sees), yet end before a restarted first seed gives up on
    /// the other seeds (kv.cluster.first-seed-rejoin-timeout), whose replies went into the dead link.</param>
    public static void AppendThrottledFailureDetector(StringBuilder hocon, TimeSpan pause)
    {
        ArgumentNullException.ThrowIfNull(hocon);
        hocon.AppendLine($"  remote.transport-failure-detector {{ heartbeat-interval = 1s, acceptable-heartbeat-pause = {(long)pause.TotalMilliseconds}ms }}");
    }
}
