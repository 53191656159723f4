using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace Kv.Bench.Cluster;

/// <summary>
/// The issue's write anchor, measured the way our load phase is: durable puts of
/// <c>--records</c> keys with 1 KB values from <c>--threads</c> concurrent callers against an etcd
/// cluster (started by bench/compare-etcd.sh), through etcd's v3 JSON gateway (POST /v3/kv/put;
/// etcd answers once the put is committed by a majority, each member having fsynced its WAL).
/// Callers spread over the endpoints; followers forward to the leader, as etcd clients do.
/// </summary>
public static class EtcdPutBench
{
    public static int Run(BenchArgs args)
    {
        string[] endpoints = args.String("endpoints", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        long records = args.Long("records", 100_000);
        int threads = (int)args.Long("threads", 64);
        int valueSize = (int)args.Long("value-size", 1000);
        args.RejectUnknown();
        if (endpoints.Length == 0)
            throw new ArgumentException("--endpoints http://host:port,... is required");
        if (records < 1 || threads < 1 || valueSize < 1)
            throw new ArgumentException("--records, --threads and --value-size must be positive");
        return RunAsync(endpoints, records, threads, valueSize).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string[] endpoints, long records, int threads, int valueSize)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = threads, UseProxy = false })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };
        var value = new byte[valueSize];
        new Random(1).NextBytes(value);
        string value64 = Convert.ToBase64String(value);
        var recorder = new Recorder("ETCD-PUT");
        long next = -1;
        Console.WriteLine($"# etcd: {records} durable puts of {valueSize} B, {threads} threads, endpoints {string.Join(",", endpoints)}");
        var sw = Stopwatch.StartNew();
        var callers = Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            string url = endpoints[t % endpoints.Length].TrimEnd('/') + "/v3/kv/put";
            long i;
            while ((i = Interlocked.Increment(ref next)) < records)
            {
                string key64 = Convert.ToBase64String(Encoding.ASCII.GetBytes("user" + i.ToString(CultureInfo.InvariantCulture)));
                string body = "{\"key\":\"" + key64 + "\",\"value\":\"" + value64 + "\"}";
                await recorder.Time(async () =>
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    HttpResponseMessage response;
                    try
                    {
                        response = await http.PostAsync(url, content).ConfigureAwait(false);
                    }
                    catch (TaskCanceledException e) when (e.InnerException is TimeoutException)
                    {
                        throw new HttpRequestException($"etcd did not answer within {http.Timeout.TotalSeconds:0} s", e);
                    }
                    using var answered = response;
                    if (response.StatusCode != HttpStatusCode.OK)
                        throw new HttpRequestException($"etcd answered {(int)response.StatusCode}", null, response.StatusCode);
                    return true;
                }).ConfigureAwait(false);
            }
        })).ToArray();
        await Task.WhenAll(callers).ConfigureAwait(false);
        TimeSpan elapsed = sw.Elapsed;
        Console.WriteLine($"[ETCD], RunTime(ms), {(long)elapsed.TotalMilliseconds}");
        Console.WriteLine($"[ETCD], Throughput(ops/sec), {(recorder.Count / elapsed.TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture)}");
        recorder.Print();
        return recorder.Failures == 0 ? 0 : 1;
    }
}
