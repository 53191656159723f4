using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Kv.MultiProcess;

/// <summary>A line-based TCP link between a role's process and the controller.</summary>
internal sealed class ControlChannel : IDisposable
{
    private readonly TcpClient _client;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public ControlChannel(TcpClient client)
    {
        _client = client;
        var stream = client.GetStream();
        _reader = new StreamReader(stream, Encoding.UTF8);
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    public async Task SendAsync(string line)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _writer.WriteLineAsync(line).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public Task<string?> ReadAsync(CancellationToken ct) => _reader.ReadLineAsync(ct).AsTask();

    /// <summary>Reads lines into a channel until the link closes.</summary>
    public async Task PumpAsync(ChannelWriter<string> lines, CancellationToken ct)
    {
        try
        {
            while (await ReadAsync(ct).ConfigureAwait(false) is { } line)
                await lines.WriteAsync(line, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            lines.TryComplete();
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _writeLock.Dispose();
    }
}
