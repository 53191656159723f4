using System.Globalization;
using System.Net.Sockets;
using System.Reflection;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using Akka.Remote;
using Akka.Remote.Transport;

namespace Kv.MultiProcess;

/// <summary>
/// The program of one role: <c>--multinode SPEC --role R --incarnation N --controller PORT --ports r1=p1,r2=p2</c>.
/// Creates the role's system, registers with the controller, runs the spec, exits 0 on success.
/// </summary>
public static class MultiNodeProcess
{
    /// <summary>Entry point for a test assembly's Main.</summary>
    public static int Run(Assembly specAssembly, string[] args)
    {
        if (args.Length == 0 || args[0] != "--multinode")
        {
            Console.Error.WriteLine("this assembly runs as a multi-node role only: --multinode SPEC --role R --incarnation N --controller PORT --ports r=p,...");
            return 2;
        }
        try
        {
            return RunAsync(specAssembly, args).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} role failed: {e}");
            return 1;
        }
    }

    private static async Task<int> RunAsync(Assembly specAssembly, string[] args)
    {
        string Arg(string name) => args[Array.IndexOf(args, name) + 1];
        var specType = specAssembly.GetType(Arg("--multinode"), throwOnError: true)!;
        var spec = (MultiNodeSpec)Activator.CreateInstance(specType)!;
        string role = Arg("--role");
        int incarnation = int.Parse(Arg("--incarnation"), CultureInfo.InvariantCulture);
        int controllerPort = int.Parse(Arg("--controller"), CultureInfo.InvariantCulture);
        var ports = Arg("--ports").Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => int.Parse(p[1], CultureInfo.InvariantCulture));
        var harness = ConfigurationFactory.ParseString(string.Create(CultureInfo.InvariantCulture, $$"""
            akka.remote.dot-netty.tcp {
              hostname = "127.0.0.1"
              port = {{ports[role]}}
              applied-adapters = ["trttl"]
            }
            """));
        var config = harness.WithFallback(spec.RoleConfig(role)).WithFallback(ConfigurationFactory.ParseString("akka.actor.provider = remote"));
        var system = ActorSystem.Create(spec.SystemName, config);
        // Every role listens on the same protocol (akka.trttl.tcp with the throttler applied).
        string protocol = ((ExtendedActorSystem)system).Provider.DefaultAddress.Protocol;
        var addresses = ports.ToDictionary(p => p.Key, p => new Address(protocol, spec.SystemName, "127.0.0.1", p.Value));

        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync("127.0.0.1", controllerPort).ConfigureAwait(false);
        using var control = new ControlChannel(client);
        var replies = Channel.CreateUnbounded<string>();
        var lines = Channel.CreateUnbounded<string>();
        using var stop = new CancellationTokenSource();
        _ = control.PumpAsync(lines.Writer, stop.Token);
        _ = DispatchAsync(lines.Reader, replies.Writer, control, system, addresses);

        await control.SendAsync($"hello {role} {incarnation}").ConfigureAwait(false);
        using (var startWait = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            var start = await replies.Reader.ReadAsync(startWait.Token).ConfigureAwait(false);
            if (start != "start")
                throw new MultiProcessException($"expected start from the controller, got '{start}'");
        }
        var context = new MultiNodeContext(role, incarnation, system, control, replies, addresses, spec.BarrierTimeout);
        context.Log($"running {specType.Name} at {((ExtendedActorSystem)system).Provider.DefaultAddress} (uid {AddressUidExtension.Uid(system)})");
        await spec.RunAsync(context).ConfigureAwait(false);
        context.Log("finished");
        await control.SendAsync("finished").ConfigureAwait(false);
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>Applies rules the controller pushes; everything else is a reply to this role's request.</summary>
    private static async Task DispatchAsync(ChannelReader<string> lines, ChannelWriter<string> replies, ControlChannel control, ActorSystem system, Dictionary<string, Address> addresses)
    {
        await foreach (var line in lines.ReadAllAsync().ConfigureAwait(false))
        {
            var parts = line.Split(' ');
            if (parts[0] == "apply-rule")
            {
                var remote = addresses[parts[1]];
                long arg = long.Parse(parts[3], CultureInfo.InvariantCulture);
                // Akka.Remote's throttler: a blackhole or pass-through applies both ways at this end
                // (the controller sends it to both roles anyway); a throttle limits what this role sends.
                (ThrottleMode mode, ThrottleTransportAdapter.Direction direction) = parts[2] switch
                {
                    "blackhole" => ((ThrottleMode)Blackhole.Instance, ThrottleTransportAdapter.Direction.Both),
                    "throttle" => (new TokenBucket((int)Math.Min(int.MaxValue, Math.Max(arg, 64 * 1024)), arg, 0, 0), ThrottleTransportAdapter.Direction.Send),
                    _ => (Unthrottled.Instance, ThrottleTransportAdapter.Direction.Both),
                };
                var transport = ((IRemoteActorRefProvider)((ExtendedActorSystem)system).Provider).Transport;
                await transport.ManagementCommand(new SetThrottle(remote, direction, mode)).ConfigureAwait(false);
                await control.SendAsync("rule-applied").ConfigureAwait(false);
            }
            else
            {
                await replies.WriteAsync(line).ConfigureAwait(false);
            }
        }
        replies.TryComplete();
    }
}
