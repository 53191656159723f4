using System.Net.Sockets;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kv.Node;

/// <summary>The node's console entry point. Exit codes: 0 stopped cleanly, 1 failed at run time, 2 bad configuration or arguments, 3 could not start.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        NodeSettings settings;
        try
        {
            var parsed = NodeArguments.Parse(args);
            if (parsed.Help)
            {
                Console.WriteLine(NodeArguments.Usage);
                return 0;
            }
            settings = NodeSettings.Load(parsed);
        }
        catch (ConfigException e)
        {
            await Console.Error.WriteLineAsync($"configuration error: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, Args = [] });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(settings.LogLevel);
        builder.Services.AddSingleton(settings);
        // The actor system on the generic host (Akka.Hosting): Akka's configuration from the node's
        // settings, Akka's log through ILogger. NodeService starts the store on it.
        builder.Services.AddAkka(settings.SystemName, (akka, _) =>
        {
            akka.AddHocon(settings.Akka, HoconAddMode.Prepend);
            if (settings.Ssl is not null)
                akka.AddSetup(settings.Ssl);
            akka.ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            });
        });
        builder.Services.AddSingleton<NodeService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<NodeService>());
        // Front ends (HTTP, RESP) start after the store and stop before it.
        // Users and grants (kv.security): the store's router and admin actors and the front ends check the same one.
        builder.Services.AddSingleton(new Kv.Actors.Security.KvAccessControl(settings.Store.Security));
        builder.Services.AddSingleton<Kv.Actors.Security.IAccessControl>(sp => sp.GetRequiredService<Kv.Actors.Security.KvAccessControl>());
        builder.Services.AddSingleton<FrontEnds.FrontEndService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FrontEnds.FrontEndService>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.Store.LeaveTimeout + TimeSpan.FromSeconds(90));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        using var host = builder.Build();
        try
        {
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is NodeStartupException or SocketException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return 3;
        }
    }
}
