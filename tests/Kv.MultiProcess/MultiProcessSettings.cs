using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kv.MultiProcess;

/// <summary>Timing of the multi-process runner. KV_TEST_TIMEFACTOR stretches every timeout on slow machines.</summary>
public static class MultiProcessSettings
{
    /// <summary>Multiplier for every timeout (env KV_TEST_TIMEFACTOR, default 1).</summary>
    public static double TimeFactor { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("KV_TEST_TIMEFACTOR"), NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 ? f : 1.0;

    /// <summary>Scales a duration by the time factor.</summary>
    public static TimeSpan Dilated(TimeSpan duration) => duration * TimeFactor;

    /// <summary>A TCP port free on 127.0.0.1 at the time of the call.</summary>
    public static int FreePort()
    {
        lock (HandedOut)
        {
            while (true)
            {
                var l = new TcpListener(IPAddress.Loopback, 0);
                l.Start();
                int port = ((IPEndPoint)l.LocalEndpoint).Port;
                l.Stop();
                if (HandedOut.Add(port)) // not one given out before in this process (the kernel may give it again)
                    return port;
            }
        }
    }

    private static readonly HashSet<int> HandedOut = [];
}
