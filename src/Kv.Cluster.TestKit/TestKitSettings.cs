using System.Globalization;

namespace Kv.Cluster.TestKit;

/// <summary>Timing of the test kit. KV_TEST_TIMEFACTOR stretches every timeout on slow machines.</summary>
public static class TestKitSettings
{
    /// <summary>Multiplier for every test timeout (env KV_TEST_TIMEFACTOR, default 1).</summary>
    public static double TimeFactor { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("KV_TEST_TIMEFACTOR"), NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 ? f : 1.0;

    /// <summary>Default wait of ExpectMsg and friends.</summary>
    public static TimeSpan DefaultTimeout => Dilated(TimeSpan.FromSeconds(3));

    /// <summary>Scales a duration by the time factor.</summary>
    public static TimeSpan Dilated(TimeSpan duration) => duration * TimeFactor;
}
