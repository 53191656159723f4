using Kv.Actors.Coordinators;
using System.Text;
using Kv.Actors;
using Kv.Actors.Admin;
using Kv.Actors.Wire;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace Kv.Client;

/// <summary>
/// The Task facade over <see cref="KvClientActor"/>: connect to contact points, then get, put and
/// delete with siblings and causal contexts, as Riak's clients do; plus the cluster administration
/// calls the `kv` command uses. Errors are typed <see cref="KvException"/>s. Thread-safe; one per
/// process is plenty.
/// </summary>
public sealed partial class KvClient : IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly RoutingState _routing;
    private readonly bool _ownsSystem;

    private KvClient(ActorSystem system, IActorRef actor, RoutingState routing, KvClientOptions options, bool ownsSystem = true)
    {
        (_system, Actor, _routing, _ownsSystem) = (system, actor, routing, ownsSystem);
        Options = options;
    }

    public KvClientOptions Options { get; }

    /// <summary>The client actor (for callers that prefer messages: <see cref="Get"/>, <see cref="Put"/>, <see cref="Delete"/>).</summary>
    public IActorRef Actor { get; }

    /// <summary>Props for a client actor in a caller's own actor system (which needs remoting and <see cref="KvSerializer.Config"/>).</summary>
    public static Props Props(KvClientOptions options) => KvProps.Of(() => new KvClientActor(options));

    /// <summary>
    /// The Akka configuration of a client's actor system: remoting (not a cluster member) on an
    /// ephemeral port, the store's serializers, the throttler adapter when the cluster uses it, TLS
    /// in the `secure` profile, warnings and errors to the client's logger.
    /// </summary>
    public static Config AkkaConfig(KvClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool throttled = options.Protocol == "akka.trttl.tcp" || options.ContactPoints.Any(c => c.StartsWith("akka.trttl.tcp://", StringComparison.Ordinal));
        var h = new StringBuilder();
        h.AppendLine("akka {");
        h.AppendLine("  loglevel = WARNING");
        h.AppendLine("  stdout-loglevel = OFF");
        h.AppendLine($"  loggers = [\"{typeof(KvClientLogger).FullName}, {typeof(KvClientLogger).Assembly.GetName().Name}\"]");
        h.AppendLine("  log-dead-letters = off");
        h.AppendLine("  log-dead-letters-during-shutdown = off");
        h.AppendLine("  actor.provider = remote");
        // A client never ends its host process: coordinated shutdown (run, e.g., after a refused
        // TLS handshake) only terminates the client's actor system.
        h.AppendLine("  coordinated-shutdown.exit-clr = off");
        h.AppendLine("  coordinated-shutdown.run-by-clr-shutdown-hook = off");
        h.AppendLine("  remote.use-dispatcher = \"akka.actor.default-dispatcher\"");
        h.AppendLine("  remote.dot-netty.tcp {");
        h.AppendLine($"    hostname = \"{options.Hostname}\"");
        h.AppendLine("    port = 0");
        // Room for the largest value with its key and context (the nodes' kv.remote.maximum-frame-size is 4 MiB).
        h.AppendLine($"    maximum-frame-size = {Math.Max(128_000, options.MaxValueBytes + 64 * 1024)}b");
        KvRemoting.AppendTransportTuning(h);
        if (throttled)
            h.AppendLine("    applied-adapters = [\"trttl\"]");
        if (options.Certificate is not null)
            KvSecurity.AppendHocon(h);
        h.AppendLine("  }");
        if (throttled)
            KvRemoting.AppendThrottledFailureDetector(h, TimeSpan.FromSeconds(6));
        h.AppendLine("  cluster.client.heartbeat-interval = 1s");
        h.AppendLine("}");
        return ConfigurationFactory.ParseString(h.ToString()).WithFallback(KvSerializer.Config);
    }

    /// <summary>Starts the client's actor system and waits until a contact point has answered with the ring.</summary>
    public static async Task<KvClient> ConnectAsync(KvClientOptions? options = null, ILoggerFactory? loggers = null)
    {
        options ??= new KvClientOptions();
        var setups = new List<Setup> { BootstrapSetup.Create().WithConfig(AkkaConfig(options)) };
        if (options.Certificate is { } c)
        {
            try
            {
                setups.Add(KvSecurity.SslSetup(c.Path, c.Password, c.CaPath));
            }
            catch (ArgumentException e)
            {
                throw new KvException("secure profile: " + e.Message);
            }
        }
        if (loggers is not null)
            setups.Add(new KvClientLoggingSetup(loggers));
        var system = ActorSystem.Create("kv-client", ActorSystemSetup.Create([.. setups]));
        try
        {
            var routing = new RoutingState();
            var actor = system.ActorOf(KvProps.Of(() => new KvClientActor(options, routing)), "kv-client");
            var client = new KvClient(system, actor, routing, options);
            var ready = await actor.Ask<object>(AwaitReady.Instance, options.ConnectTimeout + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            if (ready is KvFailure f)
                throw f.Error;
            await client.LogInIfAskedAsync().ConfigureAwait(false);
            return client;
        }
        catch (AskTimeoutException)
        {
            await system.Terminate().ConfigureAwait(false);
            throw new KvUnavailableException($"the client did not get ready within {(options.ConnectTimeout + TimeSpan.FromSeconds(5)).TotalSeconds:0} s ({string.Join(", ", options.ContactPoints)})");
        }
        catch
        {
            await system.Terminate().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The client's current view of the nodes and the ring.</summary>
    public ClientRouting Routing => _routing.Current;

    /// <summary>
    /// Sends with <paramref name="send"/>; while the reply is a refused login token
    /// (<paramref name="tokenRefused"/>: checked before anything runs, so resending is safe), logs in
    /// again and resends, a few times, a second apart. Members of a cluster that has just formed may
    /// not agree on its signing secret yet (the user store gossips it within seconds; the oldest
    /// wins), so a token issued then may be refused by every node once they agree.
    /// </summary>
    private async Task<T> RenewingAsync<T>(Func<Task<T>> send, Func<T, bool> tokenRefused) =>
        await RenewingAsync(await send().ConfigureAwait(false), send, tokenRefused).ConfigureAwait(false);

    // The same, for a first reply already in hand (the request path awaits its first send directly).
    private async Task<T> RenewingAsync<T>(T reply, Func<Task<T>> send, Func<T, bool> tokenRefused)
    {
        for (int attempt = 0; attempt < 6 && tokenRefused(reply) && _routing.Session is { Token.Length: > 0, Refresh: { } refresh }; attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            try
            {
                await refresh().ConfigureAwait(false);
            }
            catch (KvException)
            {
                break; // the login itself is refused (a new password, a deleted user): no more tries, which would count as failed logins
            }
            reply = await send().ConfigureAwait(false);
        }
        return reply;
    }

    // Requests run here on the routing snapshot, without a hop through the client actor.
    private async Task<T> Call<T>(ClientCall call)
    {
        if (call.Error is not null)
            throw call.Error;
        var reply = await call.RunAsync(_routing.Current, Options).ConfigureAwait(false);
        if (reply is KvFailure { Error: KvAuthenticationException }) // a session token expired: renew it and send again
            reply = await RenewingAsync(reply, () => call.RunAsync(_routing.Current, Options), r => r is KvFailure { Error: KvAuthenticationException }).ConfigureAwait(false);
        return reply switch
        {
            KvFailure f => throw f.Error,
            T t => t,
            _ => throw new KvException($"unexpected reply {reply.GetType().Name}: {reply}"),
        };
    }

    public Task<KvObject> GetAsync(string ns, string key, RequestOptions? options = null) => Call<KvObject>(ClientCall.For(new Get(ns, key, options), Options));

    public Task<KvWriteResult> PutAsync(string ns, string key, byte[] value, CausalContext? context = null, RequestOptions? options = null, string contentType = "application/octet-stream") =>
        Call<KvWriteResult>(ClientCall.For(new Put(ns, key, value, context, options, contentType), Options));

    public Task<KvWriteResult> PutAsync(string ns, string key, string value, CausalContext? context = null, RequestOptions? options = null) =>
        PutAsync(ns, key, Encoding.UTF8.GetBytes(value), context, options, "text/plain; charset=utf-8");

    public Task<KvWriteResult> DeleteAsync(string ns, string key, CausalContext? context = null, RequestOptions? options = null) =>
        Call<KvWriteResult>(ClientCall.For(new Delete(ns, key, context, options), Options));

    /// <summary>Members, their status and reachability, and the ring, as a reachable node sees them.</summary>
    public Task<ClusterStatus> GetClusterStatusAsync() => Call<ClusterStatus>(ClientCall.For(new AdminRequest(GetClusterStatus.Instance)));

    /// <summary>The cluster as <paramref name="node"/> (host:port or address) itself sees it; throws an AskTimeoutException when it does not answer in time.</summary>
    public Task<ClusterStatus> GetClusterStatusOfAsync(string node) =>
        AdminOn<ClusterStatus>(node, GetClusterStatus.Instance);

    /// <summary>Handoff progress of every member.</summary>
    public Task<ClusterTransfers> GetTransfersAsync() => Call<ClusterTransfers>(ClientCall.For(new AdminRequest(GetTransfers.Instance)));

    /// <summary>Every member's hint store: per holder and target, the hints held, their bytes, the oldest's age, the state.</summary>
    public Task<Kv.Actors.Hints.ClusterHints> GetHintsAsync() => Call<Kv.Actors.Hints.ClusterHints>(ClientCall.For(new AdminRequest(Kv.Actors.Hints.GetClusterHints.Instance)));

    /// <summary>Active anti-entropy on every member: the last exchange of each pair of vnodes, keys repaired, and each vnode's tree age.</summary>
    public Task<Kv.Actors.Aae.ClusterAae> GetAaeAsync() => Call<Kv.Actors.Aae.ClusterAae>(ClientCall.For(new AdminRequest(Kv.Actors.Aae.GetClusterAae.Instance)));

    /// <summary>Asks <paramref name="node"/> (host:port or address) to hand off and leave.</summary>
    public Task<AdminReply> LeaveAsync(string node) => Call<AdminReply>(ClientCall.For(new AdminRequest(new LeaveNode(node))));

    /// <summary>Marks <paramref name="node"/> (host:port or address) down.</summary>
    public Task<AdminReply> DownAsync(string node) => Call<AdminReply>(ClientCall.For(new AdminRequest(new DownNode(node))));

    /// <summary>
    /// Chaos testing: asks <paramref name="node"/> (host:port or address) itself, not any reachable
    /// node, to drop its traffic with the <paramref name="blocked"/> nodes (empty: heal). Nodes
    /// refuse unless started with kv.chaos.enabled = on (the reply's Ok is false).
    /// </summary>
    public Task<AdminReply> ChaosSetFaultsAsync(string node, IReadOnlyList<string> blocked) =>
        AdminOn<AdminReply>(node, new ChaosSetFaults(blocked.Select(AddressOf).ToList()));

    private string AddressOf(string node) => KvClientActor.NodeAddress(node, Options.SystemName, Protocol);

    private string Protocol => ProtocolOf(Options);

    /// <summary>The cluster's transport protocol: a contact point's, else akka.ssl.tcp with a certificate, else <see cref="KvClientOptions.Protocol"/>.</summary>
    internal static string ProtocolOf(KvClientOptions options) =>
        options.ContactPoints.FirstOrDefault(c => c.Contains("://", StringComparison.Ordinal)) is { } full
            ? full[..full.IndexOf("://", StringComparison.Ordinal)]
            : options.Certificate is not null ? "akka.ssl.tcp" : options.Protocol;

    /// <summary>Stops the client: its actor system, or only its actor when it runs in the caller's system (<see cref="AttachAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsSystem)
            await _system.Terminate().ConfigureAwait(false);
        else
            _system.Stop(Actor);
    }
}
