using Akka.Actor;
using Kv.Actors;

namespace Kv.Client;

public sealed partial class KvClient
{
    private static int _attached;

    /// <summary>
    /// A client whose actor runs in an existing actor system, e.g. a node's own (the node's HTTP and
    /// RESP front ends use one): no second system, no loopback remoting to reach the local node
    /// (Akka delivers to local actors directly), the same routing and errors as a remote client.
    /// The system needs remoting and <see cref="Kv.Actors.Wire.KvSerializer.Config"/>, as a node's has.
    /// Disposing it stops only the client's actor.
    /// </summary>
    public static async Task<KvClient> AttachAsync(ActorSystem system, KvClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(options);
        var routing = new RoutingState();
        string name = "kv-client-" + Interlocked.Increment(ref _attached).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var actor = system.ActorOf(KvProps.Of(() => new KvClientActor(options, routing)), name);
        var client = new KvClient(system, actor, routing, options, ownsSystem: false);
        try
        {
            var ready = await actor.Ask<object>(AwaitReady.Instance, options.ConnectTimeout + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            if (ready is KvFailure f)
                throw f.Error;
            await client.LogInIfAskedAsync().ConfigureAwait(false);
            return client;
        }
        catch (AskTimeoutException)
        {
            system.Stop(actor);
            throw new KvUnavailableException($"the in-process client did not get ready within {(options.ConnectTimeout + TimeSpan.FromSeconds(5)).TotalSeconds:0} s");
        }
        catch
        {
            system.Stop(actor);
            throw;
        }
    }
}
