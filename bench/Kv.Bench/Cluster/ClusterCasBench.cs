using Kv.Actors.Coordinators;
using Kv.Client;

namespace Kv.Bench.Cluster;

/// <summary>
/// Kv's side of the CAS comparison: the <see cref="CasLoop"/> load as
/// <see cref="KvClient.CompareAndSwapAsync"/> calls on a consistent namespace (Paxos per key over
/// the key's N=3 primaries). Without <c>--nodes</c> it starts a local 3-node cluster that declares
/// <c>--namespace</c> (default consistent) with consistent = on.
/// </summary>
public static class ClusterCasBench
{
    public static int Run(BenchArgs args)
    {
        string nodes = args.String("nodes", "");
        string ns = args.String("namespace", "consistent");
        var loop = CasLoop.FromArgs("KV-CAS", args);
        args.RejectUnknown();
        return RunAsync(loop, nodes, ns).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(CasLoop loop, string nodes, string ns)
    {
        LocalCluster? local = null;
        IReadOnlyList<string> contacts;
        if (nodes.Length == 0)
        {
            Console.WriteLine($"# starting a local 3-node cluster (Kv.Node processes, namespace {ns} with consistent = on, N=3)");
            try
            {
                local = await LocalCluster.StartAsync(3, ["--kv.namespaces." + ns + ".consistent", "on", "--kv.actor.log-level", "warning"]).ConfigureAwait(false);
            }
            catch (Exception e) when (e is KvException or InvalidOperationException)
            {
                Console.Error.WriteLine($"error: the local cluster did not start (see the nodes' lines above): {e.Message}");
                return 2;
            }
            contacts = local.Contacts;
        }
        else
        {
            contacts = nodes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        try
        {
            await using var client = await KvClient.ConnectAsync(new KvClientOptions { ContactPoints = contacts }).ConfigureAwait(false);
            Console.WriteLine($"# kv: {loop.Describe}, namespace {ns}");
            var options = new RequestOptions { Timeout = TimeSpan.FromSeconds(5) };
            for (int k = 0; k < loop.Keys; k++)
                await client.PutAsync(ns, CasLoop.KeyName(k), loop.Initial, null, options).ConfigureAwait(false);
            return await loop.RunAsync(async (key, expected, value) =>
            {
                var result = await client.CompareAndSwapAsync(ns, CasLoop.KeyName(key), expected, value, options).ConfigureAwait(false);
                return (result.Succeeded, result.Current);
            }).ConfigureAwait(false);
        }
        catch (KvException e)
        {
            Console.Error.WriteLine($"error: {e.GetType().Name}: {e.Message}");
            return 2;
        }
        catch (NotSupportedException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        finally
        {
            if (local is not null)
                await local.DisposeAsync().ConfigureAwait(false);
        }
    }
}
