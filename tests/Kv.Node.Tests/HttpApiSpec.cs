using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Kv.Node.Tests;

/// <summary>One real node process with its HTTP front end on a free port (16 partitions, kv.max-object-size 64 KiB, a counter and a set namespace), shared by the HTTP specs.</summary>
public sealed class HttpNode : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kv-http-").FullName;

    public Processes.Running Node { get; private set; } = null!;

    public int HttpPort { get; } = Processes.FreePort();

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(20) };

    public async Task InitializeAsync()
    {
        Node = new Processes.Running(Processes.Dll("Kv.Node.dll"), _dir,
            "--data-dir", Path.Combine(_dir, "data"), "--port", Processes.FreePort().ToString(CultureInfo.InvariantCulture),
            $"--kv.http.port={HttpPort}", "--kv.ring-size=16", "--kv.max-object-size=64KiB",
            "--kv.namespaces.counters.datatype=counter", "--kv.namespaces.sets.datatype=set");
        Http.BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}");
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (true)
        {
            try
            {
                using var ready = await Http.GetAsync("/health/ready");
                if (ready.StatusCode == HttpStatusCode.OK)
                    break;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (DateTime.UtcNow > end || Node.Process.HasExited)
                throw new TimeoutException("the node's HTTP front end did not get ready; output:\n" + Node.Output);
            await Task.Delay(200);
        }
    }

    public Task DisposeAsync()
    {
        Http.Dispose();
        Node.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
        return Task.CompletedTask;
    }
}

/// <summary>
/// The HTTP/JSON API end to end with HttpClient against a node process: keys with contexts,
/// siblings, 404 and conditional writes, quorum parameters and errors, batches, scans, a data type,
/// health and the OpenAPI document, and hostile clients that leave the node up and serving.
/// </summary>
[Collection("processes")]
public sealed class HttpApiSpec(HttpNode node, ITestOutputHelper output) : IClassFixture<HttpNode>
{
    private HttpClient Http => node.Http;

    private static StringContent Text(string s) => new(s, Encoding.UTF8, "text/plain");

    private static string? ContextOf(HttpResponseMessage r) => r.Headers.TryGetValues("X-Kv-Context", out var v) ? v.Single() : null;

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, HttpContent? content = null, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        foreach (var (name, value) in headers)
            request.Headers.TryAddWithoutValidation(name, value);
        var response = await Http.SendAsync(request);
        output.WriteLine($"{method} {path} -> {(int)response.StatusCode}");
        return response;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task Keys_write_read_and_delete_with_contexts_siblings_as_300_and_not_found_as_404()
    {
        var put = await Send(HttpMethod.Put, "/ns/default/keys/crud", Text("hello"));
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        string first = ContextOf(put)!;
        Assert.False(string.IsNullOrEmpty(first));

        var get = await Send(HttpMethod.Get, "/ns/default/keys/crud");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("hello", await get.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", get.Content.Headers.ContentType!.MediaType);
        Assert.Equal(first, ContextOf(get));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Head, "/ns/default/keys/crud")).StatusCode);

        // Accept: application/json: the JSON form of one value.
        var asJson = await Send(HttpMethod.Get, "/ns/default/keys/crud", null, ("Accept", "application/json"));
        var one = await Json(asJson);
        Assert.Equal(first, one.GetProperty("context").GetString());
        Assert.Equal("hello", one.GetProperty("siblings")[0].GetProperty("value").GetString());

        // A blind write of bytes that are not UTF-8 beside it: two siblings, 300, the binary one in base64.
        byte[] binary = [0xff, 0xfe, 0x00, 0x80];
        var blind = await Send(HttpMethod.Put, "/ns/default/keys/crud", new ByteArrayContent(binary) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } });
        Assert.Equal(HttpStatusCode.NoContent, blind.StatusCode);
        var siblings = await Send(HttpMethod.Get, "/ns/default/keys/crud");
        Assert.Equal(HttpStatusCode.MultipleChoices, siblings.StatusCode);
        var body = await Json(siblings);
        var values = body.GetProperty("siblings").EnumerateArray().ToList();
        Assert.Equal(2, values.Count);
        Assert.Contains(values, v => v.GetProperty("value").GetString() == "hello" && v.GetProperty("contentType").GetString()!.StartsWith("text/plain", StringComparison.Ordinal));
        Assert.Contains(values, v => v.TryGetProperty("encoding", out var e) && e.GetString() == "base64"
            && Convert.FromBase64String(v.GetProperty("value").GetString()!).SequenceEqual(binary));
        string both = body.GetProperty("context").GetString()!;
        Assert.Equal(both, ContextOf(siblings));

        // Resolved with the context that saw both.
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Put, "/ns/default/keys/crud", Text("resolved"), ("X-Kv-Context", both))).StatusCode);
        var resolved = await Send(HttpMethod.Get, "/ns/default/keys/crud");
        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal("resolved", await resolved.Content.ReadAsStringAsync());

        // returnbody, then a delete with the context: 204, then 404 (JSON error) and HEAD 404.
        var withBody = await Send(HttpMethod.Put, "/ns/default/keys/crud?returnbody=true", Text("last"), ("X-Kv-Context", ContextOf(resolved)!));
        Assert.Equal(HttpStatusCode.OK, withBody.StatusCode);
        Assert.Equal("last", (await Json(withBody)).GetProperty("siblings").EnumerateArray().Single().GetProperty("value").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Delete, "/ns/default/keys/crud", null, ("X-Kv-Context", ContextOf(withBody)!))).StatusCode);
        var gone = await Send(HttpMethod.Get, "/ns/default/keys/crud");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("not_found", (await Json(gone)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Head, "/ns/default/keys/crud")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, "/ns/default/keys/never")).StatusCode);

        // A key with a slash (encoded), and a TTL.
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Put, "/ns/default/keys/a%2Fb?ttl=60s", Text("slashed"))).StatusCode);
        Assert.Equal("slashed", await (await Send(HttpMethod.Get, "/ns/default/keys/a%2Fb")).Content.ReadAsStringAsync());
        var ttl = await Json(await Send(HttpMethod.Get, "/ns/default/keys/a%2Fb/ttl"));
        Assert.InRange(ttl.GetProperty("ttl")[0].GetDouble(), 50, 60);
    }

    [Fact]
    public async Task Conditional_writes_refuse_with_412_when_the_key_exists_or_has_changed()
    {
        var created = await Send(HttpMethod.Put, "/ns/default/keys/cond", Text("v1"), ("If-None-Match", "*"));
        Assert.Equal(HttpStatusCode.NoContent, created.StatusCode);
        var again = await Send(HttpMethod.Put, "/ns/default/keys/cond", Text("v2"), ("If-None-Match", "*"));
        Assert.Equal(HttpStatusCode.PreconditionFailed, again.StatusCode);
        Assert.Equal("precondition_failed", (await Json(again)).GetProperty("error").GetString());
        Assert.Equal("v1", await (await Send(HttpMethod.Get, "/ns/default/keys/cond")).Content.ReadAsStringAsync());

        string v1 = ContextOf(created)!;
        var matched = await Send(HttpMethod.Put, "/ns/default/keys/cond", Text("v2"), ("If-Match", v1));
        Assert.Equal(HttpStatusCode.NoContent, matched.StatusCode);
        // v1's context is stale now: refused, and nothing is stored (no sibling appears).
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Send(HttpMethod.Put, "/ns/default/keys/cond", Text("v3"), ("If-Match", v1))).StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Send(HttpMethod.Delete, "/ns/default/keys/cond", null, ("If-Match", v1))).StatusCode);
        var now = await Send(HttpMethod.Get, "/ns/default/keys/cond");
        Assert.Equal(HttpStatusCode.OK, now.StatusCode);
        Assert.Equal("v2", await now.Content.ReadAsStringAsync());
        // The ETag form ("context") works as well; an If-Match on an absent key is refused.
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Put, "/ns/default/keys/cond", Text("v3"), ("If-Match", now.Headers.ETag!.Tag))).StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Send(HttpMethod.Put, "/ns/default/keys/cond-absent", Text("x"), ("If-Match", "*"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Put, "/ns/default/keys/cond", Text("x"), ("If-Match", "not a context!"))).StatusCode);
    }

    [Fact]
    public async Task Quorum_parameters_apply_and_bad_requests_get_json_errors_storing_nothing()
    {
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Put, "/ns/default/keys/q?w=3&dw=3&pw=3&timeout=5s", Text("all"))).StatusCode);
        var read = await Send(HttpMethod.Get, "/ns/default/keys/q?r=3&pr=3&notfound_ok=false");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);

        async Task Refused(HttpResponseMessage r, HttpStatusCode status, string error)
        {
            Assert.Equal(status, r.StatusCode);
            var e = await Json(r);
            Assert.Equal(error, e.GetProperty("error").GetString());
            Assert.False(string.IsNullOrEmpty(e.GetProperty("message").GetString()));
        }
        await Refused(await Send(HttpMethod.Put, "/ns/default/keys/q-bad?w=4", Text("x")), HttpStatusCode.BadRequest, "invalid_request");
        await Refused(await Send(HttpMethod.Get, "/ns/default/keys/q?r=abc"), HttpStatusCode.BadRequest, "invalid_request");
        await Refused(await Send(HttpMethod.Put, "/ns/default/keys/q-bad?timeout=soon", Text("x")), HttpStatusCode.BadRequest, "invalid_request");
        await Refused(await Send(HttpMethod.Put, "/ns/default/keys/q-bad?ttl=-5s", Text("x")), HttpStatusCode.BadRequest, "invalid_request");
        await Refused(await Send(HttpMethod.Put, "/ns/default/keys/q-bad", Text("x"), ("X-Kv-Context", "@@@")), HttpStatusCode.BadRequest, "invalid_context");
        await Refused(await Send(HttpMethod.Put, "/ns/default/keys/q-bad", new ByteArrayContent(new byte[65 * 1024])), HttpStatusCode.RequestEntityTooLarge, "value_too_large");
        await Refused(await Send(HttpMethod.Get, "/ns/nosuch/keys/k"), HttpStatusCode.NotFound, "unknown_namespace");
        await Refused(await Send(HttpMethod.Put, "/ns/default/keys/q-bad", Text("x"), ("Authorization", "Basic !!!")), HttpStatusCode.BadRequest, "bad_request");
        var bearer = await Send(HttpMethod.Get, "/ns/default/keys/q", null, ("Authorization", "Bearer abc"));
        await Refused(bearer, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Contains("Basic", bearer.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, "/ns/default/keys/q-bad")).StatusCode);
    }

    [Fact]
    public async Task Batches_give_one_outcome_per_key_and_a_scan_pages_to_the_end()
    {
        var items = Enumerable.Range(0, 25).Select(i => new { key = $"scan-{i:D2}", value = $"v{i}" }).ToList<object>();
        items.Add(new { key = "scan-bin", value = Convert.ToBase64String([0xff, 0x00]), encoding = "base64" });
        var put = await Send(HttpMethod.Post, "/ns/default/batch/put", JsonContent(new { items }));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var written = (await Json(put)).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(26, written.Count);
        Assert.All(written, r => Assert.False(r.TryGetProperty("error", out _)));

        var get = await Send(HttpMethod.Post, "/ns/default/batch/get?r=2", JsonContent(new { keys = new[] { "scan-03", "scan-missing", "scan-bin" } }));
        var read = (await Json(get)).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["scan-03", "scan-missing", "scan-bin"], read.Select(r => r.GetProperty("key").GetString()));
        Assert.Equal("v3", read[0].GetProperty("siblings")[0].GetProperty("value").GetString());
        Assert.False(read[1].GetProperty("found").GetBoolean());
        Assert.Equal("base64", read[2].GetProperty("siblings")[0].GetProperty("encoding").GetString());

        // A key twice in a write batch: that item's error, the other stored.
        var twice = await Json(await Send(HttpMethod.Post, "/ns/default/batch/put", JsonContent(new { items = new[] { new { key = "dup", value = "a" }, new { key = "dup", value = "b" } } })));
        Assert.Equal("invalid_request", twice.GetProperty("results")[1].GetProperty("error").GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/ns/default/batch/get", new StringContent("{not json"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/ns/default/batch/get", JsonContent(new { keys = Array.Empty<string>() }))).StatusCode);

        var seen = new List<string>();
        string? next = null;
        int pages = 0;
        do
        {
            var page = await Json(await Send(HttpMethod.Get, "/ns/default/keys?prefix=scan-&limit=7" + (next is null ? "" : "&after=" + Uri.EscapeDataString(next))));
            seen.AddRange(page.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("key").GetString()!));
            next = page.TryGetProperty("next", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            pages++;
        }
        while (next is not null && pages < 20);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"scan-{i:D2}").Append("scan-bin"), seen);
        Assert.Equal(4, pages);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/ns/default/keys?prefix=a&start=b")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/ns/default/keys?after=bogus")).StatusCode);
    }

    [Fact]
    public async Task Data_types_take_their_operations_and_refuse_the_wrong_kind()
    {
        Assert.Equal(5, (await Json(await Send(HttpMethod.Post, "/ns/counters/counters/hits", JsonContent(new { increment = 5 })))).GetProperty("value").GetInt64());
        Assert.Equal(3, (await Json(await Send(HttpMethod.Post, "/ns/counters/counters/hits", JsonContent(new { decrement = 2 })))).GetProperty("value").GetInt64());
        Assert.Equal(3, (await Json(await Send(HttpMethod.Get, "/ns/counters/counters/hits"))).GetProperty("value").GetInt64());
        Assert.Equal(2, (await Json(await Send(HttpMethod.Post, "/ns/sets/sets/s", JsonContent(new { add = new[] { "a", "b" } })))).GetProperty("changed").GetInt64());
        var members = await Json(await Send(HttpMethod.Get, "/ns/sets/sets/s"));
        Assert.Equal(["a", "b"], members.GetProperty("members").EnumerateArray().Select(m => m.GetString()));
        Assert.True((await Json(await Send(HttpMethod.Get, "/ns/sets/sets/s?member=b"))).GetProperty("isMember").GetBoolean());

        // A counter operation on a plain namespace, an unknown operation, a non-number: 400, nothing stored.
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/ns/default/counters/hits", JsonContent(new { increment = 1 }))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/ns/counters/counters/hits", JsonContent(new { multiply = 2 }))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/ns/counters/counters/hits", JsonContent(new { increment = "x" }))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, "/ns/default/keys/hits")).StatusCode);
        Assert.Equal(3, (await Json(await Send(HttpMethod.Get, "/ns/counters/counters/hits"))).GetProperty("value").GetInt64());
    }

    [Fact]
    public async Task Health_and_the_openapi_document_list_the_api()
    {
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/health/ready")).StatusCode);
        var doc = await Json(await Send(HttpMethod.Get, "/openapi/v1.json"));
        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (string p in new[] { "/ns/{ns}/keys/{key}", "/ns/{ns}/keys", "/ns/{ns}/keys/{key}/ttl", "/ns/{ns}/batch/get", "/ns/{ns}/batch/put", "/ns/{ns}/counters/{key}", "/ns/{ns}/sets/{key}", "/ns/{ns}/hashes/{key}", "/ns/{ns}/lists/{key}", "/ns/{ns}/registers/{key}" })
            Assert.Contains(p, paths);
        var key = doc.GetProperty("paths").GetProperty("/ns/{ns}/keys/{key}");
        Assert.Equal("GetKey", key.GetProperty("get").GetProperty("operationId").GetString());
        Assert.Equal("PutKey", key.GetProperty("put").GetProperty("operationId").GetString());
    }

    [Fact]
    public async Task Hostile_clients_leave_the_node_up_bounded_in_memory_and_serving_others()
    {
        node.Node.Process.Refresh();
        long before = node.Node.Process.WorkingSet64;
        var started = DateTime.UtcNow;

        // A slowloris: a header a byte a second.
        using var slow = new TcpClient();
        await slow.ConnectAsync(IPAddress.Loopback, node.HttpPort);
        var slowStream = slow.GetStream();
        await slowStream.WriteAsync(Encoding.ASCII.GetBytes("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: "));
        using var stop = new CancellationTokenSource();
        var dripping = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await slowStream.WriteAsync("a"u8.ToArray());
                    await Task.Delay(1000);
                }
            }
            catch (IOException)
            {
                // the node hung up on it
            }
            catch (ObjectDisposedException)
            {
            }
        });

        // A 1 GB Content-Length (8 MiB of it sent), a garbage request line, 1 MB of headers.
        string big = await Raw("PUT /ns/default/keys/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n", extraBytes: 8 << 20);
        Assert.True(big.Length == 0 || big.StartsWith("HTTP/1.1 413", StringComparison.Ordinal), big);
        string garbage = await Raw("\u0001\u00ff GARBAGE / NOT-HTTP\r\n\r\n");
        Assert.True(garbage.Length == 0 || garbage.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), garbage);
        string headers = await Raw("GET /health/live HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 1024).Select(i => $"X-H{i}: {new string('h', 1000)}\r\n")) + "\r\n");
        Assert.True(headers.Length == 0 || headers.StartsWith("HTTP/1.1 431", StringComparison.Ordinal), headers);

        // Meanwhile others are served.
        for (int i = 0; i < 20; i++)
        {
            var put = await Send(HttpMethod.Put, $"/ns/default/keys/busy-{i}", Text("v"));
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, $"/ns/default/keys/busy-{i}")).StatusCode);
        }

        // The slowloris is cut off by the header timeout (10 s), the node still up.
        var buffer = new byte[256];
        slowStream.ReadTimeout = 15_000;
        int read;
        try
        {
            read = await slowStream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (IOException)
        {
            read = 0;
        }
        string reply = Encoding.ASCII.GetString(buffer, 0, read);
        output.WriteLine($"slowloris after {(DateTime.UtcNow - started).TotalSeconds:0.0} s: {(read == 0 ? "closed" : reply.Split('\n')[0])}");
        Assert.True(read == 0 || reply.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), reply);
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 5, 15);
        await stop.CancelAsync();
        slow.Close();
        await dripping;

        Assert.False(node.Node.Process.HasExited);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/health/ready")).StatusCode);
        node.Node.Process.Refresh();
        long after = node.Node.Process.WorkingSet64;
        output.WriteLine($"working set {before >> 20} MiB -> {after >> 20} MiB");
        Assert.True(after - before < 200L << 20, $"the working set grew by {(after - before) >> 20} MiB");
    }

    /// <summary>Sends raw bytes on a new connection and returns what the node answers before it closes (or 5 s pass).</summary>
    private async Task<string> Raw(string text, int extraBytes = 0)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, node.HttpPort);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(Encoding.Latin1.GetBytes(text));
            var chunk = new byte[64 * 1024];
            for (int sent = 0; sent < extraBytes; sent += chunk.Length)
                await stream.WriteAsync(chunk);
        }
        catch (IOException)
        {
            // the node closed the connection while we were still sending: that is an answer too
        }
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0)
                answer.Write(buffer, 0, n);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // reset or timed out after the answer
        }
        string reply = Encoding.ASCII.GetString(answer.ToArray());
        output.WriteLine($"raw {text[..Math.Min(40, text.Length)].ReplaceLineEndings(" ")}... -> {reply.Split('\n')[0]}");
        return reply;
    }

    private static StringContent JsonContent(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");
}
