using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Kv.Actors;
using Kv.Actors.Backup;
using Kv.Client;
using Xunit.Abstractions;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Node.Tests;

/// <summary>
/// Backup and restore end to end, through `kv backup`, `kv backup verify` and `kv restore`: 10,000
/// keys (10% with 2 or 3 siblings) on a 3-node cluster of 16 partitions are backed up; the cluster
/// is stopped and its data deleted; a fresh 2-node cluster of 8 partitions (keys placed by its own
/// ring) gets one newer write to a backed-up key, then the restore: every key, value and sibling is
/// back, and the newer write survives as a sibling (merged, not overwritten); a key resolved after
/// the restore stays resolved when the backup is restored again. Then one byte of one
/// backup file is flipped: verify names that file (exit 3) and restore refuses (exit 3).
/// The nodes run in this process (each its own actor system with the node's settings, real
/// sockets and storage), which costs far less than node processes.
/// </summary>
public sealed class BackupRestoreSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-backup-e2e-").FullName;
    private readonly List<ActorSystem> _systems = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var system in _systems)
            await system.Terminate();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    private async Task<List<int>> StartCluster(string name, int count, int ringSize, params string[] firstNodeArgs)
    {
        var ports = new List<int>();
        var nodes = new List<(ActorSystem System, KvNode Node)>();
        for (int i = 0; i < count; i++)
        {
            int port = Processes.FreePort();
            var settings = NodeSettings.Load(NodeArguments.Parse([
                "--data-dir", Path.Combine(_dir, name, $"n{i}"), "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
                $"--kv.ring-size={ringSize}", "--kv.ring-tick=200ms",
                "--kv.cluster.gossip-interval=200ms", "--kv.cluster.leader-actions-interval=200ms", "--kv.cluster.seed-node-timeout=1s",
                "--kv.cluster.retry-unsuccessful-join-after=500ms", "--kv.cluster.heartbeat-interval=200ms",
                .. (i == 0 ? firstNodeArgs : []),
            ]));
            var system = ActorSystem.Create(settings.SystemName, settings.Akka);
            _systems.Add(system);
            var node = KvNode.Start(system, settings.Store);
            nodes.Add((system, node));
            ports.Add(port);
            ClusterExt.Get(system).JoinSeedNodes([ClusterExt.Get(nodes[0].System).SelfAddress]);
        }
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            bool ready = true;
            foreach (var (_, node) in nodes)
            {
                var ring = await node.GetRingAsync();
                ready &= ring is not null && ring.Owners.Distinct().Count() == count && ring.Settled && await node.IsServingAsync();
            }
            if (ready)
                return ports;
            if (DateTime.UtcNow > end)
                throw new TimeoutException($"the {count} nodes did not settle their ring in 60 s");
            await Task.Delay(200);
        }
    }

    private static string Contacts(List<int> ports) => string.Join(",", ports.Select(p => $"127.0.0.1:{p}"));

    private static async Task<KvClient> Connect(List<int> ports)
    {
        var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = ports.Select(p => $"127.0.0.1:{p}").ToList() });
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (client.Routing.Nodes.Count < ports.Count || client.Routing.Ring?.Owners.Distinct().Count() != ports.Count)
        {
            if (DateTime.UtcNow > end)
                throw new TimeoutException("the client did not learn every node");
            await Task.Delay(100);
        }
        return client;
    }

    private (int Code, string Out, string Err) Kv(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Program.Run(args, new StringReader(""), stdout, stderr);
        output.WriteLine($"kv {string.Join(' ', args)} -> {code}\n{stdout}{stderr}");
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Key(int i) => $"key-{i:D5}";

    /// <summary>Every key's values, sorted (the siblings).</summary>
    private static async Task<Dictionary<string, List<string>>> ReadAll(KvClient client, int keys)
    {
        var found = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (int start = 0; start < keys; start += 1000)
        {
            var batch = await client.GetManyAsync("default", Enumerable.Range(start, Math.Min(1000, keys - start)).Select(Key).ToList());
            foreach (var outcome in batch)
                found[outcome.Key] = outcome.Value.Siblings.Select(s => s.AsString()).Order(StringComparer.Ordinal).ToList();
        }
        return found;
    }

    [Fact]
    public async Task A_backup_of_a_3_node_cluster_restores_into_a_fresh_2_node_cluster_with_every_sibling_and_a_damaged_one_is_refused()
    {
        const int Keys = 10_000;
        var expected = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var source = await StartCluster("source", 3, 16);
        await using (var client = await Connect(source))
        {
            // Every key once; then, without a context (concurrent writes), a second value for 10% of them and a third for half of those.
            for (int round = 0; round < 3; round++)
            {
                for (int start = 0; start < Keys; start += 1000)
                {
                    var items = Enumerable.Range(start, 1000)
                        .Where(i => round == 0 || (round == 1 && i % 10 == 0) || (round == 2 && i % 20 == 0))
                        .Select(i => (Key(i), $"v{round}-{i}", (CausalContext?)null)).ToList();
                    var written = await client.PutManyAsync("default", items);
                    Assert.All(written, w => Assert.True(w.Ok, w.Error?.Message));
                    foreach (var (key, value, _) in items)
                        (expected.TryGetValue(key, out var list) ? list : expected[key] = []).Add(value);
                }
            }
            foreach (var list in expected.Values)
                list.Sort(StringComparer.Ordinal);
            var before = await ReadAll(client, Keys);
            Assert.Equal(1000, before.Values.Count(v => v.Count >= 2));
            Assert.Equal(500, before.Values.Count(v => v.Count == 3));
            Assert.All(expected, e => Assert.Equal(e.Value, before[e.Key]));
        }

        string backup = Path.Combine(_dir, "backup");
        var made = Kv("backup", "--to", backup, "--nodes", Contacts(source));
        Assert.Equal(0, made.Code);
        Assert.Contains($"backed up {Keys} keys in 16 partitions", made.Out, StringComparison.Ordinal);
        var manifest = BackupManifest.Read(backup);
        Assert.Equal((16, 3, Keys), (manifest.RingSize, manifest.SourceNodes.Count, manifest.TotalKeys));
        Assert.Equal(["default"], manifest.Namespaces);
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(backup, BackupManifest.FileName))))
            Assert.Equal(64, json.RootElement.GetProperty("files")[0].GetProperty("sha256").GetString()!.Length);
        Assert.Equal(0, Kv("backup", "verify", backup).Code);
        // A second backup into the same directory is refused (nothing is overwritten).
        Assert.Equal(ExitCodesIo, Kv("backup", "--to", backup, "--nodes", Contacts(source)).Code);

        // The source cluster goes, data and all.
        foreach (var system in _systems)
            await system.Terminate();
        _systems.Clear();
        Directory.Delete(Path.Combine(_dir, "source"), recursive: true);

        // The first node of the new cluster takes a snapshot of its partitions every second, keeping two.
        var target = await StartCluster("target", 2, 8, "--kv.backup.schedule=1s", "--kv.backup.keep=2");
        await using (var client = await Connect(target))
        {
            // A write the backup never saw: the restore merges with it, never overwrites it.
            await client.PutAsync("default", Key(7), "newer");
            var restored = Kv("restore", "--from", backup, "--nodes", Contacts(target));
            Assert.Equal(0, restored.Code);
            Assert.Contains($"restored {Keys} keys", restored.Out, StringComparison.Ordinal);
            var after = await ReadAll(client, Keys);
            expected[Key(7)] = [.. expected[Key(7)].Append("newer").Order(StringComparer.Ordinal)];
            Assert.Equal(Keys, after.Count);
            Assert.All(expected, e => Assert.Equal(e.Value, after[e.Key]));
            Assert.Equal(1000, after.Values.Count(v => v.Count >= 2 && !v.Contains("newer")));

            // A restored key's context is whole: a write with it replaces every sibling.
            var three = await client.GetAsync("default", Key(20));
            Assert.Equal(3, three.Siblings.Count);
            await client.PutAsync("default", Key(20), "resolved", three.Context);
            Assert.Equal(["resolved"], (await client.GetAsync("default", Key(20))).Siblings.Select(s => s.AsString()));

            // Restoring again changes nothing: the resolved key stays resolved (its write's context
            // covers every restored sibling), the newer write stays beside the old value.
            Assert.Equal(0, Kv("restore", "--from", backup, "--nodes", Contacts(target)).Code);
            Assert.Equal(["resolved"], (await client.GetAsync("default", Key(20))).Siblings.Select(s => s.AsString()));
            Assert.Equal(expected[Key(7)], (await client.GetAsync("default", Key(7))).Siblings.Select(s => s.AsString()).Order(StringComparer.Ordinal));
            Assert.Equal(expected[Key(40)], (await client.GetAsync("default", Key(40))).Siblings.Select(s => s.AsString()).Order(StringComparer.Ordinal));

            // Scheduled snapshots: two complete ones kept; one taken after the restore holds exactly
            // the keys whose partition (of the new ring) the first node owns, and verifies.
            var ring = client.Routing.Ring!;
            string first = ring.Owners.Distinct().Single(o => o.EndsWith($":{target[0]}", StringComparison.Ordinal));
            int owned = Enumerable.Range(0, Keys).Count(i => ring.Owners[global::Kv.Actors.Ring.KeyHash.PartitionOf("default"u8, System.Text.Encoding.UTF8.GetBytes(Key(i)), 8)] == first);
            string snapshots = Path.Combine(_dir, "target", "n0", "backups");
            var restoredAt = DateTimeOffset.UtcNow;
            var end = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            BackupManifest? latest = null;
            while (latest is null || latest.Created < restoredAt)
            {
                if (DateTime.UtcNow > end)
                    throw new TimeoutException("no scheduled snapshot after the restore in 20 s");
                await Task.Delay(250);
                var taken = BackupScheduler.Snapshots(snapshots);
                Assert.InRange(taken.Count, 0, 2);
                latest = taken.Count == 0 ? null : BackupManifest.Read(taken[^1]);
            }
            Assert.Equal(owned, latest.TotalKeys);
            Assert.Equal([first], latest.SourceNodes);
            Assert.Equal(ring.Owners.Count(o => o == first), latest.Files.Count);
            Assert.True(BackupVerifier.Verify(BackupScheduler.Snapshots(snapshots)[^1]).Ok);
        }

        // One flipped byte in one file: verify names it, restore refuses before writing anything.
        string victim = manifest.Files[5].Name;
        string path = Path.Combine(backup, victim);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var verify = Kv("backup", "verify", backup);
        Assert.Equal(3, verify.Code);
        Assert.Contains(victim, verify.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(manifest.Files[4].Name, verify.Err, StringComparison.Ordinal);
        var refused = Kv("restore", "--from", backup, "--nodes", Contacts(target));
        Assert.Equal(3, refused.Code);
        Assert.Contains(victim, refused.Err, StringComparison.Ordinal);
        Assert.Contains("restore refused", refused.Err, StringComparison.Ordinal);
    }

    private const int ExitCodesIo = 4;
}
