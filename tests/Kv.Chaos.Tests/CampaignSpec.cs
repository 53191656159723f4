using Kv.Chaos.Workloads;
using Kv.Client;
using Xunit.Abstractions;

namespace Kv.Chaos.Tests;

/// <summary>
/// Short campaigns against real Kv.Node processes: every workload with every nemesis, 3 nodes
/// (churn adds a spare), about 12 s of workload each. Each must be valid, must have had
/// operations acknowledged, and its nemesis must have acted. A campaign mostly waits (40
/// operations a second, faults of seconds), so the cases run in two lanes at once, one xunit
/// collection each: this class (pause,partition,kill with most workloads) and
/// <see cref="ChurnWipeCampaignSpec"/> (churn, wipe, ttl, and counter to even the lanes out, about 6.5
/// minutes each on 2 cores). Within a lane they run one at a time.
/// </summary>
[Collection("chaos-short-faults")]
public sealed class CampaignSpec(ITestOutputHelper output)
{
    /// <summary>The three short faults in one campaign (pause first, kill last: a killed node's rejoin is the slowest heal).</summary>
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string workload in (string[])["register", "set", "delete", "set-crdt", "cas-register", "consistent-counter"])
            data.Add(workload, "pause,partition,kill");
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public Task A_short_campaign_is_valid(string workload, string nemesis) => ShortCampaign.RunAsync(workload, nemesis, output);

    [Fact]
    public void The_command_line_is_checked()
    {
        Assert.Null(Program.Parse([]));
        var o = Program.Parse(["run", "--workload", "set", "--nemesis", "kill,partition", "--nodes", "3", "--time", "20", "--seed", "5", "--rate", "30", "--clients", "2", "--dir", "/tmp/x"])!;
        Assert.Equal(("set", 3, 20.0, 5, 30.0, 2, "/tmp/x"), (o.Workload, o.Nodes, o.Time.TotalSeconds, o.Seed, o.Rate, o.Clients, o.Directory));
        Assert.Equal(["kill", "partition"], o.Nemeses);
        Assert.Throws<ArgumentException>(() => Program.Parse(["run", "--workload", "bank"]));
        Assert.Throws<ArgumentException>(() => Program.Parse(["run", "--nemesis", "meteor"]));
        Assert.Throws<ArgumentException>(() => Program.Parse(["run", "--nodes", "4"]));
        Assert.Throws<ArgumentException>(() => Program.Parse(["run", "--time"]));
        Assert.Throws<ArgumentException>(() => Program.Parse(["walk"]));
    }
}

/// <summary>
/// The second lane of <see cref="CampaignSpec"/>: each classic workload (register, set, delete)
/// with churn and with wipe alone, ttl with pause,kill, counter with pause,partition,kill; and a
/// node without the chaos setting.
/// </summary>
[Collection("chaos-membership")]
public sealed class ChurnWipeCampaignSpec(ITestOutputHelper output)
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string workload in (string[])["register", "set", "delete"])
        {
            data.Add(workload, "churn");
            data.Add(workload, "wipe");
        }
        data.Add("ttl", "pause,kill");
        data.Add("counter", "pause,partition,kill");
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public Task A_short_campaign_is_valid(string workload, string nemesis) => ShortCampaign.RunAsync(workload, nemesis, output);

    [Fact]
    public async Task A_node_without_the_chaos_setting_refuses_the_partition_message()
    {
        string dir = Directory.CreateTempSubdirectory("kv-chaos-off-").FullName;
        try
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "Kv.Node.dll");
            await using var cluster = ClusterUnderTest.Start(dir, dll, nodes: 2, spares: 0, TimeSpan.FromSeconds(3), chaosEnabled: false, TextWriter.Null);
            await using var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = cluster.Contacts, ConnectTimeout = TimeSpan.FromSeconds(60) });
            await cluster.WaitSettledAsync(client, TimeSpan.FromSeconds(60), CancellationToken.None);
            var first = cluster.All[0];
            var second = cluster.All[1];
            var reply = await client.ChaosSetFaultsAsync(first.Endpoint, [second.Address]);
            Assert.False(reply.Ok);
            Assert.Contains("kv.chaos.enabled is off", reply.Message, StringComparison.Ordinal);
            // Nothing was blocked: the two nodes still see each other and serve a quorum write.
            await client.PutAsync(Requests.Namespace, "still", "connected", null, Requests.Write);
            await cluster.WaitSettledAsync(client, TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.DoesNotContain("chaos: blocked", File.ReadAllText(first.LogFile), StringComparison.Ordinal);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // a killed node may still hold a file for a moment
            }
        }
    }
}

/// <summary>One campaign of the short form (the options every CI campaign runs with).</summary>
internal static class ShortCampaign
{
    public static async Task RunAsync(string workload, string nemesis, ITestOutputHelper output)
    {
        string dir = Directory.CreateTempSubdirectory($"kv-chaos-{workload}-{nemesis}-").FullName;
        var log = new StringWriter();
        var options = new CampaignOptions
        {
            Workload = workload,
            Nemeses = nemesis.Split(','),
            Nodes = 3,
            // Room for each nemesis to act once (a fault lasts up to 5 s, a healthy gap up to 3 s).
            Time = TimeSpan.FromSeconds(12 + 8 * (nemesis.Split(',').Length - 1)),
            Seed = 7,
            Rate = 40,
            Clients = 4,
            Directory = dir,
            FaultDuration = (TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5)),
            HealthyGap = (TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3)),
            Log = TextWriter.Synchronized(log),
        };
        CampaignResult result;
        try
        {
            result = await Campaign.RunAsync(options);
        }
        finally
        {
            output.WriteLine(log.ToString());
        }
        output.WriteLine(result.Summary());
        foreach (string n in nemesis.Split(','))
            Assert.True(result.NemesisActions[n] > 0, $"the {n} nemesis never acted");
        Assert.True(result.Check["acknowledged"] > 0, "no operation was acknowledged");
        Assert.True(result.Valid, result.Summary());
        try
        {
            Directory.Delete(dir, recursive: true); // kept when the test fails
        }
        catch (IOException)
        {
            // a killed node may still hold a file for a moment
        }
    }
}

// Two lanes of campaigns run at once (each collection runs its cases one at a time).
[CollectionDefinition("chaos-short-faults")]
public sealed class ChaosShortFaultsCollection;

[CollectionDefinition("chaos-membership")]
public sealed class ChaosMembershipCollection;
