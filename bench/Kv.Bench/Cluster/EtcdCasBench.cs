using System.Net;
using System.Text;
using System.Text.Json;

namespace Kv.Bench.Cluster;

/// <summary>
/// etcd's side of the CAS comparison (bench/compare-etcd.sh cas starts the 3-member cluster):
/// the <see cref="CasLoop"/> load as etcd transactions through the v3 JSON gateway
/// (POST /v3/kv/txn): compare the key's value (<c>--compare value</c>, the default, as Kv's CAS
/// does) or its mod_revision (<c>--compare mod</c>, etcd's idiom; the caller then remembers the
/// revision it last saw) and put the new value on success, read the key on failure (its current
/// value or revision). etcd answers once the transaction is committed by a majority.
/// </summary>
public static class EtcdCasBench
{
    public static int Run(BenchArgs args)
    {
        string[] endpoints = args.String("endpoints", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string compare = args.String("compare", "value");
        var loop = CasLoop.FromArgs("ETCD-CAS", args);
        args.RejectUnknown();
        if (endpoints.Length == 0)
            throw new ArgumentException("--endpoints http://host:port,... is required");
        if (compare is not ("value" or "mod"))
            throw new ArgumentException("--compare must be value or mod");
        return RunAsync(endpoints, loop, compare == "mod").GetAwaiter().GetResult();
    }

    private static string B64(string s) => Convert.ToBase64String(Encoding.ASCII.GetBytes(s));

    private static async Task<int> RunAsync(string[] endpoints, CasLoop loop, bool byRevision)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, UseProxy = false })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };
        Console.WriteLine($"# etcd: {loop.Describe}, compare on {(byRevision ? "mod_revision" : "value")}, endpoints {string.Join(",", endpoints)}");

        // Every key starts with the initial value; remember each one's revision.
        var revisions = new long[loop.Keys];
        for (int k = 0; k < loop.Keys; k++)
        {
            using var put = await PostAsync(http, endpoints[0], "/v3/kv/put",
                $"{{\"key\":\"{B64(CasLoop.KeyName(k))}\",\"value\":\"{Convert.ToBase64String(loop.Initial)}\"}}").ConfigureAwait(false);
            revisions[k] = long.Parse(put.RootElement.GetProperty("header").GetProperty("revision").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        }

        // With --compare mod, a caller's "expected value" is the revision it saw, kept beside it by value.
        var revisionOf = new System.Collections.Concurrent.ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        string Id(int key, byte[] value) => key.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + Convert.ToBase64String(value);
        for (int k = 0; k < loop.Keys; k++)
            revisionOf[Id(k, loop.Initial)] = revisions[k];

        int turn = 0;
        return await loop.RunAsync(async (key, expected, value) =>
        {
            string endpoint = endpoints[(Interlocked.Increment(ref turn) & int.MaxValue) % endpoints.Length];
            string key64 = B64(CasLoop.KeyName(key));
            string condition = byRevision
                ? $"{{\"key\":\"{key64}\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"{revisionOf.GetValueOrDefault(Id(key, expected))}\"}}"
                : $"{{\"key\":\"{key64}\",\"target\":\"VALUE\",\"result\":\"EQUAL\",\"value\":\"{Convert.ToBase64String(expected)}\"}}";
            string body = $"{{\"compare\":[{condition}],\"success\":[{{\"request_put\":{{\"key\":\"{key64}\",\"value\":\"{Convert.ToBase64String(value)}\"}}}}],\"failure\":[{{\"request_range\":{{\"key\":\"{key64}\"}}}}]}}";
            using var answer = await PostAsync(http, endpoint, "/v3/kv/txn", body).ConfigureAwait(false);
            var root = answer.RootElement;
            // proto3 JSON leaves false out: no "succeeded" is a failed compare.
            if (root.TryGetProperty("succeeded", out var s) && s.GetBoolean())
            {
                if (byRevision)
                    revisionOf[Id(key, value)] = long.Parse(root.GetProperty("header").GetProperty("revision").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                return (true, value);
            }
            var range = root.GetProperty("responses")[0].GetProperty("response_range");
            if (!range.TryGetProperty("kvs", out var kvs) || kvs.GetArrayLength() == 0)
                return (false, null);
            byte[] current = Convert.FromBase64String(kvs[0].GetProperty("value").GetString()!);
            if (byRevision)
                revisionOf[Id(key, current)] = long.Parse(kvs[0].GetProperty("mod_revision").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            return (false, current);
        }).ConfigureAwait(false);
    }

    private static async Task<JsonDocument> PostAsync(HttpClient http, string endpoint, string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(endpoint.TrimEnd('/') + path, content).ConfigureAwait(false);
        }
        catch (TaskCanceledException e) when (e.InnerException is TimeoutException)
        {
            throw new HttpRequestException($"etcd did not answer within {http.Timeout.TotalSeconds:0} s", e);
        }
        using var answered = response;
        string text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new HttpRequestException($"etcd answered {(int)response.StatusCode}: {text}", null, response.StatusCode);
        return JsonDocument.Parse(text);
    }
}
